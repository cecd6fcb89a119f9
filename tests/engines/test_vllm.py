"""vLLM needs a GPU and the vllm package; these tests run only where both are present."""

import pytest

vllm = pytest.importorskip("vllm", reason="vLLM is not installed (GPU-only backend); its tests run where it is")


def test_vllm_engine_exact_prompts_n_and_stops(tiny_model_dir):
    from distilabel_magpie.engines.base import SamplingParams
    from distilabel_magpie.engines.vllm import VLLMEngine

    llm = VLLMEngine(model=tiny_model_dir, gpu_memory_utilization=0.3, max_model_len=512)
    llm.load()
    t = llm.own_template()
    assert llm.tokenize(t.pre_query()) == llm.runner.tokenizer(t.pre_query(), add_special_tokens=False)["input_ids"]
    out = llm.complete([t.pre_query()], SamplingParams(max_new_tokens=8, n=3, seed=0, stop=tuple(t.query_stop)))
    assert len(out[0]) == 3 and all(c.completion_tokens <= 8 for c in out[0])
    assert all(c.prompt_tokens == len(llm.tokenize(t.pre_query())) for c in out[0])
