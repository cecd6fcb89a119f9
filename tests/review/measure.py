"""Measures the local review server: startup from an empty data dir, push throughput, search latency
and memory. Not a test (pytest does not collect it); run it by hand:

    PYTHONPATH=src python tests/review/measure.py [--rows 2000]
"""

import argparse
import json
import logging
import os
import tempfile
import time
import uuid

from distilabel_magpie.review.server import ReviewServer
from distilabel_magpie.review.server.manager import _free_port
from distilabel_magpie.review.server.venv import ensure_venv


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=2000)
    args = parser.parse_args()
    logging.getLogger("distilabel.step").setLevel(logging.ERROR)
    results = {}
    with tempfile.TemporaryDirectory() as data_dir:
        server = ReviewServer(data_dir=data_dir, port=_free_port())
        ensure_venv(server.venv_dir)
        t0 = time.monotonic()
        creds = server.start(echo=lambda _: None)
        results["startup_empty_data_dir_s"] = round(time.monotonic() - t0, 1)
        os.environ["ARGILLA_API_URL"], os.environ["ARGILLA_API_KEY"] = creds.api_url, creds.api_key
        try:
            from distilabel_magpie.review.push import PushSFTToArgilla

            rows = [{"instruction": f"Question {i}: explain topic {uuid.uuid4().hex}?",
                     "response": "A long answer. " * 40, "model_name": "m", "reward": float(i % 13),
                     "quality": "good", "quality_score": 0.5, "embedding": [float(i % 7), 1.0, float(i % 3)] * 128}
                    for i in range(args.rows)]
            step = PushSFTToArgilla(dataset_name=f"measure-{uuid.uuid4().hex[:6]}")
            step.load()
            t0 = time.monotonic()
            for start in range(0, len(rows), 200):
                step.push_rows(rows[start : start + 200])
            elapsed = time.monotonic() - t0
            results["push_records_per_s"] = round(len(rows) / elapsed, 1)
            results["push_counts"] = step.counts.summary()
            t0 = time.monotonic()
            for start in range(0, len(rows), 200):  # re-push: all updates
                step.push_rows(rows[start : start + 200])
            results["repush_records_per_s"] = round(len(rows) / (time.monotonic() - t0), 1)

            import argilla as rg

            client = rg.Argilla(api_url=creds.api_url, api_key=creds.api_key)
            dataset = client.datasets(step.dataset_name)
            for label, query in [("text", rg.Query(query="explain topic")),
                                 ("filter", rg.Query(filter=rg.Filter(("metadata.reward", ">=", 6.0)))),
                                 ("similar", rg.Query(similar=rg.Similar(name="embedding", value=[1.0] * 384)))]:
                for run in ("cold", "warm"):  # warm: the engine's caches of texts and vectors are filled
                    t0 = time.monotonic()
                    list(dataset.records(query=query, limit=50))
                    results[f"search_{label}_first_page_ms_{run}"] = round((time.monotonic() - t0) * 1000)
            t0 = time.monotonic()
            dataset.progress()
            results["progress_ms"] = round((time.monotonic() - t0) * 1000)
            status = server.status()
            results["rss_mb"] = {name: p["rss_mb"] for name, p in status["processes"].items()}
        finally:
            server.stop()
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
