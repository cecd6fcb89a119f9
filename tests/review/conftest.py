"""One real review server for the whole review test session, started and stopped through our own
tooling (`ReviewServer`) in a temporary data directory. Its virtualenv is the user's cached one
(built on first use), so only the first run pays for building it."""

import os
import shutil
import socket
import time
import uuid
import warnings

import pytest

from distilabel_magpie.review.server import ReviewServer
from distilabel_magpie.review.server.venv import ensure_venv


def pytest_configure(config):
    config.addinivalue_line("markers", "argilla: needs the local Argilla review server (Redis + argilla-server)")
    config.addinivalue_line("markers", "browser: drives headless Chromium against the review server's UI")
    config.addinivalue_line("filterwarnings", "ignore::UserWarning:argilla.*")  # "workspace not provided" etc.


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def require(tool: str) -> None:
    """Missing system tools fail in CI (where scripts/system-deps.sh installs them) and skip elsewhere."""
    if shutil.which(tool) is None:
        message = f"{tool} not installed (run: bash scripts/system-deps.sh)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)


@pytest.fixture(scope="session")
def review_server(tmp_path_factory):
    require("redis-server")
    pytest.importorskip("argilla")
    server = ReviewServer(data_dir=tmp_path_factory.mktemp("review-server"), port=_free_port())
    ensure_venv(server.venv_dir, echo=print)  # built once per machine (pip's cache makes rebuilds faster)
    t0 = time.monotonic()
    creds = server.start(echo=print)
    server.first_start_seconds = time.monotonic() - t0
    saved = {k: os.environ.get(k) for k in ("ARGILLA_API_URL", "ARGILLA_API_KEY")}
    os.environ["ARGILLA_API_URL"], os.environ["ARGILLA_API_KEY"] = creds.api_url, creds.api_key
    try:
        yield server, creds
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        server.stop()


@pytest.fixture(scope="session")
def client(review_server):
    import argilla as rg

    warnings.filterwarnings("ignore", module="argilla")
    _, creds = review_server
    return rg.Argilla(api_url=creds.api_url, api_key=creds.api_key)


@pytest.fixture
def dataset_name(request):
    """A fresh dataset name per test."""
    return f"{request.node.name[:40].replace('[', '-').replace(']', '')}-{uuid.uuid4().hex[:6]}".lower()
