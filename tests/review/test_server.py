"""The local review server's lifecycle, through our own tooling."""

import shutil
import subprocess

import pytest

from distilabel_magpie.errors import MagpieError
from distilabel_magpie.review.server import ReviewServer
from distilabel_magpie.review.server.manager import _free_port, _redis_ping, _start_time

pytestmark = pytest.mark.argilla


def test_starts_from_an_empty_data_dir_within_30_seconds(review_server):
    server, _ = review_server
    assert server.first_start_seconds < 30


def test_status_reports_health_and_memory(review_server):
    server, creds = review_server
    info = server.status()
    assert info["running"] and info["healthy"] and info["url"] == creds.api_url
    assert set(info["processes"]) == {"redis", "server", "worker"}
    for name, proc in info["processes"].items():
        assert proc["alive"] and proc["rss_mb"] > 1, name
    assert (server.data_dir / "argilla" / "argilla.db").is_file()
    assert oct((server.data_dir / "credentials.json").stat().st_mode & 0o777) == "0o600"


def test_start_is_a_no_op_while_running(review_server):
    server, creds = review_server
    before = server.status()["processes"]
    again = server.start()
    assert again.api_key == creds.api_key
    assert server.status()["processes"] == before


def test_restart_keeps_data_and_stops_only_its_own_processes(review_server, client, dataset_name, tmp_path):
    import argilla as rg

    server, creds = review_server
    dataset = rg.Dataset(name=dataset_name, client=client, settings=rg.Settings(
        fields=[rg.TextField(name="text")], questions=[rg.LabelQuestion(name="ok", labels=["yes", "no"])]))
    dataset.create()
    dataset.records.log([{"text": f"persist me {i}"} for i in range(3)])

    # A Redis of someone else's, started by hand: `stop` must leave it alone.
    other_port = _free_port()
    other = subprocess.Popen([shutil.which("redis-server"), "--port", str(other_port), "--save", "",
                              "--dir", str(tmp_path)], stdout=subprocess.DEVNULL)
    try:
        pids = {name: p["pid"] for name, p in server.status()["processes"].items()}
        assert sorted(server.stop()) == ["redis", "server", "worker"]
        assert all(_start_time(pid) is None for pid in pids.values())
        assert not server.status()["running"]
        assert other.poll() is None and _redis_ping(other_port)

        restarted = server.start()
        assert restarted.api_key == creds.api_key and restarted.api_url == creds.api_url
        texts = sorted(r.fields["text"] for r in client.datasets(dataset_name).records)
        assert texts == ["persist me 0", "persist me 1", "persist me 2"]
    finally:
        other.terminate()
        other.wait()


def test_port_in_use_and_missing_redis_are_one_line_errors(review_server, tmp_path, monkeypatch):
    server, _creds = review_server
    with pytest.raises(MagpieError, match=f"port {server.port} on 127.0.0.1 is already in use"):
        ReviewServer(data_dir=tmp_path / "a", port=server.port).start()
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(MagpieError, match="redis-server not found: install it with `sudo apt-get install redis-serv"):
        ReviewServer(data_dir=tmp_path / "b", port=_free_port()).start()


def test_stop_when_not_running_does_nothing(tmp_path):
    assert ReviewServer(data_dir=tmp_path).stop() == []
    assert ReviewServer(data_dir=tmp_path).status()["running"] is False


def test_the_worker_runs_background_jobs_with_the_engine(review_server, client, dataset_name):
    """Updating a dataset queues a job (recompute record statuses) that only the rq worker runs."""
    import time

    import argilla as rg

    dataset = rg.Dataset(name=dataset_name, client=client, settings=rg.Settings(
        fields=[rg.TextField(name="text")], questions=[rg.LabelQuestion(name="ok", labels=["yes", "no"])]))
    dataset.create()
    dataset.records.log([{"text": "one"}])
    record = next(iter(dataset.records))
    record.responses.add(rg.Response("ok", "yes", user_id=client.me.id, status="submitted"))
    dataset.records.log([record])
    assert next(iter(dataset.records)).status == "completed"

    dataset.settings.distribution = rg.TaskDistribution(min_submitted=2)
    dataset.update()
    deadline = time.monotonic() + 30
    while next(iter(client.datasets(dataset_name).records)).status != "pending":
        assert time.monotonic() < deadline, "the worker did not recompute the record status"
        time.sleep(0.5)
