"""Make the local server's UI show field text as text.

argilla-server 2.8.0's UI renders text and chat fields that are not markdown with `innerHTML` (and
text that looks like HTML inside an iframe). Generated text is untrusted: `<img src=x onerror=...>`
in a response runs script in the reviewer's session, which holds an owner API key. The markdown path
is sanitised (DOMPurify) but drops the tags, so a reviewer would not see them. Our datasets use
`use_markdown=False`, and this patch switches exactly those two render expressions of the compiled
UI to `textContent`: the reviewer sees the exact string that goes into training, markup included,
and none of it runs. Applied once, when the server's virtualenv is built; the expected number of
sites is checked so a different UI build fails loudly instead of half-patched.
"""

from __future__ import annotations

import re
from pathlib import Path

from distilabel_magpie.errors import MagpieError

PATCH_VERSION = "1"

# TextField: markdown ? MarkdownRenderer : isHTML ? Sandbox(iframe) : div innerHTML  ->  ... : div textContent
_TEXT_FIELD = re.compile(
    r'(\w)\.isHTML\?(\w)\("Sandbox",\{attrs:\{content:\1\.fieldText\}\}\):'
    r'\2\("div",\{class:\1\.classes,domProps:\{innerHTML:\1\._s\(\1\.fieldText\)\}'
)
# ChatField message: markdown ? MarkdownRenderer : span innerHTML  ->  ... : span textContent
_CHAT_MESSAGE = re.compile(
    r'(\w)\.useMarkdown\?(\w)\("MarkdownRenderer",\{attrs:\{markdown:(\w)\}\}\):'
    r'\2\("span",\{domProps:\{innerHTML:\1\._s\(\3\)\}'
)
_EXPECTED = {"text field": 8, "chat message": 8}  # sites in argilla-server 2.8.0's compiled UI


def _text_field(m: re.Match) -> str:
    obj, h = m.group(1), m.group(2)
    return f'{h}("div",{{class:{obj}.classes,domProps:{{textContent:{obj}._s({obj}.fieldText)}}'


def _chat_message(m: re.Match) -> str:
    obj, h, var = m.group(1), m.group(2), m.group(3)
    return (f'{obj}.useMarkdown?{h}("MarkdownRenderer",{{attrs:{{markdown:{var}}}}}):'
            f'{h}("span",{{domProps:{{textContent:{obj}._s({var})}}')


def patch_ui(static_dir: Path) -> dict:
    """Patches the compiled UI under `static_dir` (argilla_server/static) in place; returns the
    number of sites changed per kind."""
    counts = {"text field": 0, "chat message": 0}
    changed = {}
    for path in sorted((Path(static_dir) / "_nuxt").glob("*.js")):
        text = path.read_text(encoding="utf-8")
        new, n_text = _TEXT_FIELD.subn(_text_field, text)
        new, n_chat = _CHAT_MESSAGE.subn(_chat_message, new)
        counts["text field"] += n_text
        counts["chat message"] += n_chat
        if new != text:
            changed[path] = new
    if counts != _EXPECTED:
        raise MagpieError(f"unexpected argilla-server UI build: found {counts}, expected {_EXPECTED} sites to patch")
    for path, text in changed.items():
        path.write_text(text, encoding="utf-8")
    return counts
