import collections

import pytest

from distilabel_magpie.errors import MagpieError
from distilabel_magpie.generation.system_prompts import SystemPromptSampler


def test_forms():
    assert SystemPromptSampler(None).choose(0).key is None
    assert SystemPromptSampler("Be kind.").choose(3).text == "Be kind."
    assert SystemPromptSampler(["a", "b"], seed=1).choose(0).key in {"0", "1"}


def test_weights_that_do_not_sum_to_one_exactly_are_normalised():
    sampler = SystemPromptSampler({"math": ("m", 0.7), "code": ("c", 0.2), "none": (None, 0.1)}, seed=0)
    counts = collections.Counter(sampler.choose(i).key for i in range(5000))
    assert abs(counts["math"] / 5000 - 0.7) < 0.03
    assert abs(counts["code"] / 5000 - 0.2) < 0.03
    assert sampler.choose(counts and next(i for i in range(5000) if sampler.choose(i).key == "none")).text is None
    assert SystemPromptSampler({"a": ("x", 3), "b": ("y", 1)}, seed=0)._cumulative[-1] == pytest.approx(1.0)


def test_same_seed_same_choices():
    spec = {"a": "x", "b": "y", "c": "z"}
    first = [SystemPromptSampler(spec, seed=42).choose(i).key for i in range(50)]
    assert first == [SystemPromptSampler(spec, seed=42).choose(i).key for i in range(50)]
    assert first != [SystemPromptSampler(spec, seed=43).choose(i).key for i in range(50)]


@pytest.mark.parametrize("spec,message", [
    ({"a": ("x", -1)}, "positive"),
    ({"a": ("x", 0), "b": ("y", 0)}, "all zero"),
    ({"a": ("x", "heavy")}, "not a number"),
    ([], "empty list"),
    (3, "must be a string"),
])
def test_bad_specs(spec, message):
    with pytest.raises(MagpieError, match=message):
        SystemPromptSampler(spec)
