"""What a run was asked to do: every step's settings, flattened to `step.field` names, as
`SaveDataset` records them in `settings.json` (and as a Distiset's `pipeline.yaml` holds them), so
runs can be compared setting by setting."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Optional

SETTINGS_FILE = "settings.json"
PIPELINE_YAML = "pipeline.yaml"  # what distilabel writes beside a Distiset (Distiset.save_to_disk)

# Dump entries that are descriptions, not settings.
_SKIP = {"name", "runtime_parameters_info", "input_mappings", "output_mappings"}
# Names whose values must never be written (a key passed as --param to another LLM class).
_SECRET_WORDS = ("api_key", "password", "secret", "access_token", "hf_token")
HIDDEN = "(hidden)"


def _secret(name: str) -> bool:
    name = name.lower()
    return name != "api_key_env" and any(word in name for word in _SECRET_WORDS)


def flatten(dump: dict, prefix: str = "") -> dict[str, Any]:
    """`{"llm": {"model_path": "x", "type_info": {...}}}` as `{"llm.model_path": "x", "llm.type": ...}`:
    nested settings by their dotted names (as `--param` names them), a component's class as `.type`,
    secrets hidden."""
    flat: dict[str, Any] = {}
    for key, value in dump.items():
        if key in _SKIP:
            continue
        name = f"{prefix}{key}"
        if key == "type_info" and isinstance(value, dict):
            flat[f"{prefix}type"] = value.get("name")
        elif _secret(key) and value is not None:
            flat[name] = HIDDEN
        elif isinstance(value, dict) and value:
            flat.update(flatten(value, f"{name}."))
        elif not isinstance(value, dict):
            flat[name] = value if value is None or isinstance(value, (str, int, float, bool)) else _plain(value)
    return flat


def _plain(value: Any) -> Any:
    """A list or other value as JSON can hold it (SecretStr and the like hidden)."""
    if type(value).__name__ == "SecretStr":
        return HIDDEN
    try:
        return json.loads(json.dumps(value))
    except (TypeError, ValueError):
        return str(value)


def _coerce(given: Any, dumped: Any) -> Any:
    """A `--param` value (text) in the type of the setting it replaces, so `temperature=1` given
    on the command line equals a dumped 1.0; text that is not a number, a bool or null stays text."""
    if not isinstance(given, str) or isinstance(dumped, str):
        return given
    text = given.strip()
    value: Any = given
    if text.lower() in ("true", "false"):
        value = text.lower() == "true"
    elif text.lower() in ("null", "none"):
        value = None
    else:
        for kind in (int, float):
            try:
                value = kind(text)
                break
            except ValueError:
                continue
    if isinstance(dumped, float) and not isinstance(dumped, bool) and type(value) is int:
        return float(value)
    if dumped is None or type(value) is type(dumped):
        return value
    return given


def _merge(dump: dict, parameters: dict) -> None:
    """`parameters` (`{field: value}` of one step) in place of the dumped values: into a component
    (an LLM, `resources`, `generation_kwargs`) field by field, any other value as a whole."""
    for key, value in parameters.items():
        old = dump.get(key)
        if isinstance(value, dict) and isinstance(old, dict) and (
                "type_info" in old or key in ("resources", "generation_kwargs")):
            _merge(old, value)
        else:
            dump[key] = _coerce(value, old)


def dag_settings(dag: Any, parameters: Optional[dict] = None) -> dict[str, Any]:
    """The settings of every step of `dag` (`step.field` -> value), with the run's `parameters`
    (`{step: {field: value}}`, as `--param` gives them) in place of the pipeline's own values."""
    flat: dict[str, Any] = {}
    for name in list(dag.G):
        dump = dag.get_step(name)["step"].dump()
        given = (parameters or {}).get(name)
        if isinstance(given, dict):
            _merge(dump, given)
        flat.update(flatten(dump, f"{name}."))
    return flat


def pipeline_yaml_settings(path: Path) -> Optional[dict[str, Any]]:
    """The settings in a distilabel `pipeline.yaml` (its steps as they ran); None if unreadable."""
    import yaml

    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        steps = data["pipeline"]["steps"]
    except (OSError, yaml.YAMLError, KeyError, TypeError):
        return None
    flat: dict[str, Any] = {}
    for entry in steps:
        step = entry.get("step") if isinstance(entry, dict) else None
        if isinstance(step, dict):
            flat.update(flatten(step, f"{entry.get('name') or step.get('name')}."))
    return flat


def read_settings(folder: Path) -> tuple[Optional[dict[str, Any]], str]:
    """The settings recorded in a run's folder and where they were found: SaveDataset's
    `settings.json`, else a Distiset's `pipeline.yaml`; (None, reason) when neither is there."""
    record = folder / SETTINGS_FILE
    if record.is_file():
        try:
            data = json.loads(record.read_text(encoding="utf-8"))
            return dict(data["settings"]), SETTINGS_FILE
        except (OSError, ValueError, KeyError, TypeError):
            return None, f"{SETTINGS_FILE} cannot be read"
    if (folder / PIPELINE_YAML).is_file():
        found = pipeline_yaml_settings(folder / PIPELINE_YAML)
        return (found, PIPELINE_YAML) if found is not None else (None, f"{PIPELINE_YAML} cannot be read")
    return None, "not recorded (no settings.json or pipeline.yaml beside the rows)"
