"""Loading a Hugging Face sequence-classification reward model: device, dtype, checks that the
checkpoint is one, and the longest input it takes. Scoring is `scoring.reward.RewardScorer`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from distilabel_magpie.engines.transformers import torch_device
from distilabel_magpie.errors import MagpieError, one_line

DTYPES = ("auto", "float32", "float16", "bfloat16")


@dataclass
class RewardModel:
    model: Any  # an AutoModelForSequenceClassification, in eval mode on `device`
    tokenizer: Any
    device: str
    max_length: int  # the model's longest input in tokens


def load_reward_model(name: str, *, device: str = "auto", dtype: str = "auto",
                      trust_remote_code: bool = False) -> RewardModel:
    """The reward model in directory (or hub id) `name`; one-line errors for what cannot be one."""
    try:
        import torch
        from transformers import AutoConfig, AutoModelForSequenceClassification, AutoTokenizer
    except ImportError:
        raise MagpieError("the reward labeler needs torch and transformers: "
                          "pip install 'distilabel-magpie[transformers]'") from None
    if dtype not in DTYPES:
        raise MagpieError(f"dtype must be one of {', '.join(DTYPES)}, got {dtype!r}")
    try:
        config = AutoConfig.from_pretrained(name, trust_remote_code=trust_remote_code)
    except Exception as e:  # OSError (missing), ValueError (remote code refused), ...
        raise MagpieError(f"cannot load reward model {name!r}: {one_line(e)}") from None
    architectures = list(getattr(config, "architectures", None) or [])
    auto_map = getattr(config, "auto_map", None) or {}
    if architectures and not any(a.endswith("ForSequenceClassification") for a in architectures) \
            and "AutoModelForSequenceClassification" not in auto_map:
        raise MagpieError(
            f"{name!r} is a {', '.join(architectures)}, not a sequence-classification reward model; "
            "use a checkpoint saved with AutoModelForSequenceClassification (e.g. Skywork-Reward, ArmoRM)")
    device = torch_device(None if device == "auto" else device)
    if dtype == "auto":  # half precision is slow or unsupported on CPUs
        torch_dtype = torch.float32 if device == "cpu" else "auto"
    else:
        torch_dtype = getattr(torch, dtype)
    try:
        tokenizer = AutoTokenizer.from_pretrained(name, trust_remote_code=trust_remote_code)
        model = AutoModelForSequenceClassification.from_pretrained(
            name, dtype=torch_dtype, trust_remote_code=trust_remote_code)
    except ValueError as e:  # "Unrecognized configuration class ... for AutoModelForSequenceClassification"
        raise MagpieError(f"{name!r} cannot be loaded as a sequence-classification reward model: "
                          f"{one_line(e)}") from None
    except OSError as e:
        raise MagpieError(f"cannot load reward model {name!r}: {one_line(e)}") from None
    model.to(device).eval()
    return RewardModel(model, tokenizer, device, _model_limit(tokenizer, config))


def _model_limit(tokenizer: Any, config: Any) -> int:
    limits = [getattr(tokenizer, "model_max_length", None), getattr(config, "max_position_embeddings", None),
              getattr(config, "n_positions", None)]
    usable = [int(x) for x in limits if isinstance(x, int) and 0 < x < 1_000_000]
    return min(usable) if usable else 4096
