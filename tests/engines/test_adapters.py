"""distilabel's own LLMs are driven through our adapters, found by type: subclasses too."""

from __future__ import annotations

import pytest
from distilabel.models.llms import LlamaCppLLM, OpenAILLM

from distilabel_magpie.engines import SamplingParams, check_supported, engine_for
from distilabel_magpie.engines.llamacpp import LlamaCppLLMAdapter
from distilabel_magpie.errors import MagpieError


class MyLlamaCpp(LlamaCppLLM):
    """A user's subclass (its own name: a lookup by class name would miss it)."""


class MyOpenAI(OpenAILLM):
    pass


def test_a_subclass_of_llamacppllm_gets_the_llamacpp_adapter(embedded_model_path):
    llm = MyLlamaCpp(model_path=embedded_model_path, n_ctx=512)
    check_supported(llm)
    llm.load()
    try:
        engine = engine_for(llm)
        assert isinstance(engine, LlamaCppLLMAdapter)
        out = engine.complete(["<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n"],
                              SamplingParams(max_new_tokens=4, temperature=0))
        assert out[0][0].completion_tokens >= 1
        # The context advice names the field of this backend.
        assert engine.context_advice(3000) == "raise llm.n_ctx to at least 3000"
    finally:
        llm.unload()


def test_a_subclass_of_a_chat_only_llm_is_refused():
    with pytest.raises(MagpieError, match="MyOpenAI only offers chat completions"):
        check_supported(MyOpenAI(model="gpt-4o-mini", api_key="sk-not-used"))
