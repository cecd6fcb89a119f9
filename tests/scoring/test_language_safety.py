import pytest
from distilabel.models.llms.base import LLM

from distilabel_magpie.engines import Completion
from distilabel_magpie.engines.llm import CompletionLLM
from distilabel_magpie.errors import MagpieError
from distilabel_magpie.scoring import LanguageTagger, MagpieJudge, SafetyTagger
from distilabel_magpie.templates import get_preset


def test_language_tags_queries_with_iso_codes():
    step = LanguageTagger()
    step.load()
    rows = next(step.process([
        {"instruction": "How do I bake sourdough bread at home?"},
        {"instruction": "¿Cómo puedo hornear pan de masa madre en casa?"},
        {"instruction": "Comment puis-je faire du pain au levain à la maison ?"},
        {"instruction": ""},
        {"instruction": None},
    ]))
    assert [r["language"] for r in rows] == ["EN", "ES", "FR", None, None]


def test_language_subset_and_bad_codes():
    step = LanguageTagger(languages=["en", "de"])
    step.load()
    assert next(step.process([{"instruction": "Wie spät ist es?"}]))[0]["language"] == "DE"
    with pytest.raises(MagpieError, match="unknown ISO 639-1 language code 'xx'"):
        LanguageTagger(languages=["en", "xx"]).load()


class MockGuardEngine(CompletionLLM):
    """A mock of a Llama-Guard model (none can run here): answers by a keyword, and records prompts."""

    prompts: list = []

    @property
    def model_name(self):
        return "mock-llama-guard"

    def complete(self, prompts, params, progress=None):
        self.prompts += prompts
        answers = {"knife": "unsafe\nS1", "gibberish": "I am not sure"}
        return [[Completion(next((a for k, a in answers.items() if k in p), "safe"), "stop", 10, 2)] for p in prompts]

    def tokenize(self, text):
        return list(text.encode())

    def own_template(self, default_system=None):
        return get_preset("llama3")


def test_safety_tagger_with_mock_guard_engine():
    """Mocked guard (no Llama-Guard model here): rendering through the guard's template and parsing."""
    engine = MockGuardEngine(prompts=[])
    step = SafetyTagger(llm=engine, target="response")
    step.load()
    rows = next(step.process([
        {"instruction": "How to cook?", "response": "Boil water."},
        {"instruction": "How to hurt?", "response": "Use a knife."},
        {"instruction": "??", "response": "gibberish"},
        {"instruction": "Hi", "response": None},
    ]))
    assert [(r["safety"], r["safety_categories"]) for r in rows] == [
        ("safe", []), ("unsafe", ["S1"]), (None, []), (None, [])]
    assert "not 'safe' or 'unsafe'" in rows[2]["safety_error"] and "no response" in rows[3]["safety_error"]
    assert engine.prompts[0].startswith("<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nHow to cook?")
    assert engine.prompts[0].endswith("<|start_header_id|>assistant<|end_header_id|>\n\n")
    assert len(engine.prompts) == 3  # the row without a response is not sent


def test_safety_tagger_on_a_tiny_random_model_flags_what_it_cannot_parse(tiny_model_dir):
    """No guard model can be had here, so this is not a test of safety judgements: it runs the
    real engine path (TransformersEngine, the model's own chat template, greedy decoding) on a
    tiny randomly initialised model, whose answers are never 'safe'/'unsafe': every row must come
    back flagged with its raw answer, none silently tagged."""
    from distilabel_magpie.engines.transformers import TransformersEngine

    step = SafetyTagger(llm=TransformersEngine(model=tiny_model_dir, device="cpu"), target="response",
                        max_new_tokens=4)
    step.load()
    rows = next(step.process([{"instruction": "How to cook?", "response": "Boil water."},
                              {"instruction": "Hi", "response": "Hello."}]))
    assert [r["safety"] for r in rows] == [None, None]
    assert all("not 'safe' or 'unsafe'" in r["safety_error"] for r in rows)


class MockChatJudge(LLM):
    """A mock of a chat-only API judge (no such service is reachable here): prose around JSON."""

    @property
    def model_name(self):
        return "mock-chat-judge"

    def load(self):
        super().load()

    def generate(self, inputs, num_generations=1, **kwargs):
        def answer(chat):
            if "Cannot parse me" in chat[-1]["content"]:
                return "I think it is fine."
            return "Here you go:\n```json\n{'input_quality': 'Good', 'explanation': 'clear',}\n```"
        return [{"generations": [answer(chat)] * num_generations, "statistics": {}} for chat in inputs]


def test_judge_with_mock_chat_only_llm_uses_the_tolerant_parser():
    """Mocked chat API (unreachable here): chat-only LLMs go through distilabel's generate."""
    step = MagpieJudge(llm=MockChatJudge(), tags=["quality"])
    step.load()
    rows = next(step.process([{"instruction": "How do I bake bread?"}, {"instruction": "Cannot parse me"}]))
    assert (rows[0]["quality"], rows[0]["judge_status"]) == ("good", "ok")
    assert rows[1]["judge_status"] == "failed" and rows[1]["judge_error"] == "quality: no JSON object in the output"
    assert "1/2 (50.0%)" in step.summary()


def test_a_safety_tagger_switched_off_loads_no_guard_and_passes_rows_unchanged():
    from distilabel_magpie.engines import LlamaCppEngine

    step = SafetyTagger(llm=LlamaCppEngine(model_path="/no/such/guard.gguf"), enabled=False)
    step.load()  # the missing guard model is never loaded
    rows = [{"instruction": "How do I bake bread?", "response": "Knead and bake."}]
    assert next(step.process([dict(r) for r in rows])) == rows
    step.unload()
    with pytest.raises(MagpieError, match="guard.gguf"):
        SafetyTagger(llm=LlamaCppEngine(model_path="/no/such/guard.gguf")).load()
