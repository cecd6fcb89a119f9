"""The steps as distilabel components: YAML round trip, a real pipeline run, no key in any dump or log."""

import logging

import pytest
from distilabel.pipeline import Pipeline
from distilabel.steps import LoadDataFromDicts

from distilabel_magpie.review.pull import LoadReviewedFromArgilla
from distilabel_magpie.review.push import PushPreferencesToArgilla, PushSFTToArgilla

pytestmark = pytest.mark.e2e  # a whole pipeline, a server or a killed process

logging.getLogger("distilabel.step").setLevel(logging.ERROR)


def test_steps_dump_to_yaml_and_load_back_without_the_key(tmp_path):
    secret = "magpie.super-secret-key-123"
    with Pipeline(name="review-roundtrip", cache_dir=tmp_path / "cache") as pipeline:
        data = LoadDataFromDicts(data=[{"instruction": "q", "response": "a"}])
        push = PushSFTToArgilla(name="push", dataset_name="reviewed", api_url="http://argilla.example:6900",
                                api_key=secret, run_id="r1", max_retries=3)
        pref = PushPreferencesToArgilla(name="push_pref", dataset_name="pairs", api_key=secret)
        data >> [push, pref]
    path = tmp_path / "pipeline.yaml"
    pipeline.save(path, format="yaml")
    text = path.read_text()
    assert secret not in text
    assert "dataset_name: reviewed" in text and "max_retries: 3" in text
    info = {p["name"]: p for p in pipeline.dump()["pipeline"]["steps"][1]["step"]["runtime_parameters_info"]}
    assert "api_key" in info and info["api_key"]["description"].startswith("Argilla API key")

    loaded = Pipeline.from_yaml(path)
    step = loaded.dag.get_step("push")["step"]
    assert isinstance(step, PushSFTToArgilla)
    assert (step.dataset_name, step.api_url, step.run_id, step.max_retries) == (
        "reviewed", "http://argilla.example:6900", "r1", 3)
    assert step.api_key is None
    assert isinstance(loaded.dag.get_step("push_pref")["step"], PushPreferencesToArgilla)

    with Pipeline(name="pull-roundtrip", cache_dir=tmp_path / "cache2") as pipeline:
        LoadReviewedFromArgilla(name="pull", kind="preference", dataset_name="pairs", api_key=secret)
    pipeline.save(tmp_path / "pull.yaml", format="yaml")
    assert secret not in (tmp_path / "pull.yaml").read_text()
    pulled = Pipeline.from_yaml(tmp_path / "pull.yaml").dag.get_step("pull")["step"]
    assert pulled.kind == "preference" and pulled.outputs[:3] == ["prompt", "chosen", "rejected"]


@pytest.mark.argilla
def test_pipeline_run_pushes_with_the_key_as_a_runtime_parameter(review_server, client, dataset_name, tmp_path,
                                                                  monkeypatch):
    _, creds = review_server
    monkeypatch.delenv("ARGILLA_API_KEY")  # only the runtime parameter carries it
    rows = [{"instruction": f"Pipeline question {i}?", "response": f"Answer {i}", "reward": float(i)} for i in range(7)]
    cache = tmp_path / "cache"
    with Pipeline(name="review-push", cache_dir=cache) as pipeline:
        data = LoadDataFromDicts(data=rows, batch_size=3)
        push = PushSFTToArgilla(name="push", dataset_name=dataset_name, api_url=creds.api_url, input_batch_size=3)
        data >> push
    distiset = pipeline.run(parameters={"push": {"api_key": creds.api_key}}, use_cache=False)
    out = distiset["default"]["train"]
    assert sorted(out["argilla_status"]) == ["created"] * 7
    assert len(list(client.datasets(dataset_name).records)) == 7
    leaked = [str(p) for p in cache.rglob("*") if p.is_file() and creds.api_key.encode() in p.read_bytes()]
    assert leaked == []
    records = list(client.datasets(dataset_name).records)
    assert all(creds.api_key not in str(r.metadata) for r in records)
    assert {r.metadata["run_id"] for r in records} == {"review-push"}


def full_recipe_row(i: int) -> dict:
    """A row as pipelines/magpie-full.yaml hands it to its push step."""
    import math

    vector = [math.cos(i + k) for k in range(384)]
    norm = math.sqrt(sum(v * v for v in vector))
    return {"instruction": f"Full recipe question {i}?", "instruction_status": "ok", "response": f"Answer {i}.",
            "response_status": "ok", "model_name": "SmolLM2-135M-Instruct.Q4_1.gguf", "reasoning": None,
            "base_response": f"Base {i}.", "base_response_status": "ok", "quality": "good", "difficulty": "easy",
            "task_category": "Math", "judge_status": "ok", "judge_model": "SmolLM2-135M-Instruct.Q4_1.gguf",
            "reward": 1.0 + i, "reward_base": 0.5, "reward_difference": 0.5 + i, "language": "EN",
            "min_neighbor_distance": 1.1, "repeat_count": 0, "embedding": [v / norm for v in vector]}


@pytest.mark.argilla
def test_the_full_recipes_push_step_is_off_without_a_dataset_and_on_with_one(review_server, client, dataset_name,
                                                                              tmp_path):
    from distilabel_magpie.pipelines import build_full_pipeline

    step = Pipeline.from_dict(build_full_pipeline().dump()).dag.get_step("push_to_argilla")["step"]
    step.load()  # no dataset_name: off, rows pass unchanged
    rows = [full_recipe_row(i) for i in range(3)]
    assert next(step.process([dict(r) for r in rows])) == rows

    with Pipeline(name="magpie-full", cache_dir=tmp_path / "cache") as pipeline:
        data = LoadDataFromDicts(data=rows)
        push = PushSFTToArgilla(name="push_to_argilla", optional=True)
        data >> push
    distiset = pipeline.run(parameters={"push_to_argilla": {"dataset_name": dataset_name}}, use_cache=False)
    assert sorted(distiset["default"]["train"]["argilla_status"]) == ["created"] * 3
    dataset = client.datasets(dataset_name)
    assert dataset.settings.vectors["embedding"].dimensions == 384
    assert [q.name for q in dataset.settings.questions] == [
        "quality", "verdict", "corrected_response", "instruction_quality", "difficulty", "task_category"]
    record = next(iter(dataset.records(with_suggestions=True, with_vectors=True)))
    assert record.suggestions["verdict"].value == "accept" and record.suggestions["task_category"].value == "Math"
    assert record.suggestions["instruction_quality"].agent == "SmolLM2-135M-Instruct.Q4_1.gguf"
    assert record.metadata["reward_difference"] >= 0.5 and record.metadata["run_id"] == "magpie-full"
    assert len(record.vectors["embedding"]) == 384
