import pytest

from distilabel_magpie.generation.control import DOMAINS, detect_language, domain_prompt, language_code, register_domain
from distilabel_magpie.engines.llamacpp import LlamaCppEngine
from distilabel_magpie.errors import MagpieError
from distilabel_magpie.generation import MagpieSampler


def test_domain_presets_and_custom_domains():
    assert "step-by-step guidance on solving math problems" in domain_prompt("math")
    register_domain("legal", "You are a legal assistant.")
    assert domain_prompt("legal") == "You are a legal assistant."
    del DOMAINS["legal"]
    with pytest.raises(MagpieError, match="did you mean 'math'"):
        domain_prompt("maths")


def test_sampler_domains_become_named_system_prompts():
    step = MagpieSampler(llm=LlamaCppEngine(), num_rows=2, domain=["math", "code"])
    spec = step.system_prompt_spec()
    assert set(spec) == {"math", "code"} and spec["math"] == DOMAINS["math"]
    with pytest.raises(MagpieError, match="either system_prompt or domain"):
        MagpieSampler(llm=LlamaCppEngine(), num_rows=2, domain="math", system_prompt="x")
    with pytest.raises(MagpieError, match="unknown domain"):
        MagpieSampler(llm=LlamaCppEngine(), num_rows=2, domain="cooking")


def test_language_steering_prompt_and_detection():
    step = MagpieSampler(llm=LlamaCppEngine(), num_rows=2, language="fr", domain="math")
    assert step.system_prompt_spec()["math"].endswith("The user writes in French and you answer in French.")
    assert language_code("German") == "de"
    assert detect_language("Quelle est la capitale de la France et pourquoi ?") == "fr"
    assert detect_language("   ") is None
    with pytest.raises(MagpieError, match="does not know 'Elvish'"):
        MagpieSampler(llm=LlamaCppEngine(), num_rows=2, language="Elvish")


def test_off_language_queries_are_flagged(llamacpp_engine):
    import logging

    from distilabel_magpie.engines.base import Completion
    from distilabel_magpie.generation.system_prompts import SystemPromptChoice

    step = MagpieSampler(llm=llamacpp_engine, num_rows=2, language="French")
    step._logger = logging.getLogger("test")
    step._load_engine()
    choice = SystemPromptChoice("default", "x")
    english = step._row(0, choice, "p", Completion("What is the capital of Germany today?", "stop", 1, 1),
                        step.sampling_params(), None)
    french = step._row(1, choice, "p", Completion("Quelle est la capitale de l'Allemagne aujourd'hui ?", "stop", 1, 1),
                       step.sampling_params(), None)
    assert (english["instruction_status"], english["language"]) == ("wrong_language", "en")
    assert (french["instruction_status"], french["language"]) == ("ok", "fr")
