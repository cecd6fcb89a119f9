"""Where a template comes from: a chat template string, a tokenizer folder or
`tokenizer_config.json`, a loaded Hugging Face tokenizer, a GGUF header, or a preset name."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

from distilabel_magpie.errors import MagpieError
from distilabel_magpie.templates.presets import _aliases, _from_preset_data, get_preset, match_preset, preset_names
from distilabel_magpie.templates.template import MagpieTemplate


def from_chat_template(
    chat_template: Optional[str],
    bos_token: Optional[str] = None,
    eos_token: Optional[str] = None,
    *,
    source: str,
    default_system: Optional[bool] = None,
) -> MagpieTemplate:
    """A template for a model's own chat template. A template identical to a preset's takes
    the preset's name, stops and default-system choice; others keep the default system turn
    (exactly what `apply_chat_template` renders) unless `default_system=False`."""
    if not chat_template:
        raise MagpieError(
            f"{source} has no chat template; set the template to a preset (one of: {', '.join(preset_names())})"
        )
    data = match_preset(chat_template)
    if data is not None:
        return _from_preset_data(data, default_system, bos_token=bos_token, eos_token=eos_token)
    return MagpieTemplate(
        name=f"custom ({source})",
        chat_template=chat_template,
        bos_token=bos_token,
        eos_token=eos_token,
        default_system=True if default_system is None else default_system,
    )


def _token_text(token) -> Optional[str]:
    if isinstance(token, dict):  # AddedToken serialised in tokenizer_config.json
        return token.get("content")
    return token


def from_tokenizer_config(path: str | Path, default_system: Optional[bool] = None) -> MagpieTemplate:
    """From a `tokenizer_config.json` (or a directory holding one, or a `chat_template.jinja`)."""
    path = Path(path)
    if path.is_dir():
        config_file = path / "tokenizer_config.json"
        jinja_file = path / "chat_template.jinja"
        if not config_file.exists() and not jinja_file.exists():
            raise MagpieError(f"{path} holds neither tokenizer_config.json nor chat_template.jinja")
        config = json.loads(config_file.read_text(encoding="utf-8")) if config_file.exists() else {}
        if jinja_file.exists() and not config.get("chat_template"):
            config["chat_template"] = jinja_file.read_text(encoding="utf-8")
        source = str(path)
    else:
        try:
            config = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as e:
            raise MagpieError(f"{path} is not valid JSON ({e.msg} at line {e.lineno})") from None
        source = str(path)
    chat_template = config.get("chat_template")
    if isinstance(chat_template, list):  # named templates: use the default one
        named = {t.get("name"): t.get("template") for t in chat_template}
        chat_template = named.get("default") or next(iter(named.values()), None)
    return from_chat_template(
        chat_template,
        _token_text(config.get("bos_token")),
        _token_text(config.get("eos_token")),
        source=source,
        default_system=default_system,
    )


def from_hf_tokenizer(tokenizer, default_system: Optional[bool] = None) -> MagpieTemplate:
    """From a loaded Hugging Face tokenizer."""
    return from_chat_template(
        getattr(tokenizer, "chat_template", None),
        tokenizer.bos_token,
        tokenizer.eos_token,
        source=f"tokenizer {getattr(tokenizer, 'name_or_path', '')}".strip(),
        default_system=default_system,
    )


def from_gguf(path: str | Path, default_system: Optional[bool] = None) -> MagpieTemplate:
    """From the metadata of a GGUF file (`tokenizer.chat_template` and the BOS/EOS tokens)."""
    from distilabel_magpie.templates.gguf import read_gguf_metadata

    meta = read_gguf_metadata(path, keys={"tokenizer.chat_template", "tokenizer.ggml.bos_token_id",
                                          "tokenizer.ggml.eos_token_id", "tokenizer.ggml.tokens"})
    tokens = meta.get("tokenizer.ggml.tokens") or []

    def token(key: str) -> Optional[str]:
        idx = meta.get(key)
        return tokens[idx] if isinstance(idx, int) and 0 <= idx < len(tokens) else None

    return from_chat_template(
        meta.get("tokenizer.chat_template"),
        token("tokenizer.ggml.bos_token_id"),
        token("tokenizer.ggml.eos_token_id"),
        source=Path(path).name,
        default_system=default_system,
    )


def from_path(path: str | Path, default_system: Optional[bool] = None) -> MagpieTemplate:
    """From a GGUF file, a tokenizer directory, a `tokenizer_config.json` or a `.jinja` file."""
    path = Path(path)
    if not path.exists():
        raise MagpieError(f"{path} does not exist; give a tokenizer directory, tokenizer_config.json or .gguf file")
    if path.suffix == ".gguf":
        return from_gguf(path, default_system)
    if path.suffix == ".jinja":
        return from_chat_template(path.read_text(encoding="utf-8"), source=path.name, default_system=default_system)
    if path.is_dir() or path.suffix == ".json":
        return from_tokenizer_config(path, default_system)
    raise MagpieError(
        f"{path}: unsupported file type; give a tokenizer directory, tokenizer_config.json, chat_template.jinja or .gguf"
    )


def resolve(spec: str, default_system: Optional[bool] = None) -> MagpieTemplate:
    """A preset name or a path (see `from_path`)."""
    if spec.lower() in _aliases():
        return get_preset(spec, default_system)
    if "/" in spec or "\\" in spec or Path(spec).suffix in (".gguf", ".json", ".jinja") or Path(spec).exists():
        return from_path(spec, default_system)
    return get_preset(spec, default_system)  # raises with a suggestion
