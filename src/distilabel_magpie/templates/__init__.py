"""The Magpie template: the exact prompt text Magpie sends, derived from a model's own chat
template.

- `template.py`: `MagpieTemplate` (pre-query text, role prefixes, end-of-turn, stops)
- `render.py`: the Jinja renderer, as `transformers.apply_chat_template` renders
- `sources.py`: a template from a tokenizer folder, `tokenizer_config.json`, a GGUF header
  (`gguf.py` reads it), a loaded tokenizer or a preset name (`resolve`)
- `presets/`: official chat templates with the official Magpie choices
- `reasoning.py`: reasoning markers and thinking switches
"""

from distilabel_magpie.templates.presets import get_preset, match_preset, preset_names
from distilabel_magpie.templates.sources import (
    from_chat_template,
    from_gguf,
    from_hf_tokenizer,
    from_path,
    from_tokenizer_config,
    resolve,
)
from distilabel_magpie.templates.template import PAPER_FOLLOWUP_SYSTEM_PROMPT, MagpieTemplate, markers

__all__ = [
    "PAPER_FOLLOWUP_SYSTEM_PROMPT",
    "MagpieTemplate",
    "from_chat_template",
    "from_gguf",
    "from_hf_tokenizer",
    "from_path",
    "from_tokenizer_config",
    "get_preset",
    "markers",
    "match_preset",
    "preset_names",
    "resolve",
]
