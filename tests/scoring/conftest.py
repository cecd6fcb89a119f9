import pytest

from distilabel_magpie.scoring.tiny import build_tiny_reward_model


@pytest.fixture(scope="session")
def reward_models(tmp_path_factory):
    """Tiny randomly initialised reward models saved to disk: {(arch, padding_side): path}."""
    root = tmp_path_factory.mktemp("reward_models")
    return {(arch, side): build_tiny_reward_model(root / f"{arch}-{side}", arch=arch, padding_side=side)
            for arch in ("llama", "gpt2") for side in ("left", "right")}


@pytest.fixture(scope="session")
def reward_model(reward_models):
    return reward_models[("llama", "right")]
