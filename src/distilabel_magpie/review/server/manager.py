"""Start, stop and inspect the local review server: the real argilla-server 2.8.0 (API + web UI),
its rq worker and a private Redis, over SQLite in one data directory. No Docker, no Elasticsearch.

Layout of the data directory:
    argilla/argilla.db   the server's database (persists across restarts)
    credentials.json     owner username, password and API key (mode 0600)
    server.json          what `start` launched: pids, their start times, ports (removed by `stop`)
    logs/*.log           redis, server and worker output
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable, Optional

from distilabel_magpie.errors import MagpieError
from distilabel_magpie.review.server.venv import default_venv_dir, ensure_venv

ENGINE_NAME = "magpie-sqlite"
PLUGIN_DIR = Path(__file__).parent / "plugin"
DEFAULT_PORT = 6900
REDIS_INSTALL_HINT = (
    "redis-server not found: install it with `sudo apt-get install redis-server` (Debian/Ubuntu), "
    "`brew install redis` (macOS) or `bash scripts/system-deps.sh`"
)


def default_data_dir() -> Path:
    env = os.environ.get("MAGPIE_REVIEW_HOME")
    if env:
        return Path(env).expanduser()
    data = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    return data / "distilabel-magpie" / "review-server"


@dataclass
class Credentials:
    api_url: str
    username: str
    password: str
    api_key: str
    workspace: str

    def __repr__(self) -> str:  # keep secrets out of logs and tracebacks
        return f"Credentials(api_url={self.api_url!r}, username={self.username!r}, workspace={self.workspace!r})"


def read_credentials(data_dir: Optional[Path] = None) -> Optional[Credentials]:
    """The local server's credentials if it is running (used when no ARGILLA_API_* is set)."""
    data_dir = Path(data_dir or default_data_dir())
    state, creds = data_dir / "server.json", data_dir / "credentials.json"
    if not (state.is_file() and creds.is_file()):
        return None
    url = json.loads(state.read_text())["url"]
    return Credentials(api_url=url, **json.loads(creds.read_text()))


# -- processes --------------------------------------------------------------------------------------


def _start_time(pid: int) -> Optional[str]:
    """The kernel's start time of `pid` (None if gone or a zombie): with the pid, it identifies
    the exact process we started even after pids are reused."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[1].split()
    return None if fields[0] == "Z" else fields[19]


def _group_rss_mb(pgid: int) -> float:
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            if int(fields[2]) != pgid:
                continue
            for line in (stat.parent / "status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except (OSError, ValueError, IndexError):
            continue
    return round(total / 1024, 1)


@dataclass
class _Proc:
    name: str
    pid: int
    start_time: Optional[str]

    def alive(self) -> bool:
        return self.start_time is not None and _start_time(self.pid) == self.start_time

    def stop(self, timeout: float = 15.0) -> bool:
        """SIGTERM to the process group we created for it (the worker's forked jobs included),
        SIGKILL after `timeout`. Returns whether it was running."""
        if not self.alive():
            return False
        try:
            os.killpg(self.pid, signal.SIGTERM)
        except ProcessLookupError:
            return False
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            _reap(self.pid)
            if not self.alive():
                return True
            time.sleep(0.1)
        try:
            os.killpg(self.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        _reap(self.pid)
        return True


def _reap(pid: int) -> None:
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _port_in_use(host: str, port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex((host, port)) == 0


def _redis_ping(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as s:
            s.sendall(b"PING\r\n")
            return s.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def _http_ok(url: str, api_key: Optional[str] = None, timeout: float = 2.0) -> bool:
    req = urllib.request.Request(url, headers={"X-Argilla-Api-Key": api_key} if api_key else {})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.status == 200
    except (urllib.error.URLError, OSError):
        return False


def _log_tail(path: Path) -> str:
    try:
        lines = [line.strip() for line in path.read_text(errors="replace").splitlines() if line.strip()]
    except OSError:
        return ""
    errors = [line for line in lines if "Error" in line or "error" in line]
    return (errors or lines or [""])[-1][:300]


# -- the server -------------------------------------------------------------------------------------


class ReviewServer:
    """One local review server, identified by its data directory.

    Examples:
        ```python
        server = ReviewServer("/tmp/review")
        creds = server.start()          # builds the venv on first use
        print(creds.api_url, creds.api_key)
        server.stop()
        ```
    """

    def __init__(
        self,
        data_dir: Optional[os.PathLike] = None,
        venv_dir: Optional[os.PathLike] = None,
        host: str = "127.0.0.1",
        port: int = DEFAULT_PORT,
        username: str = "magpie",
        workspace: str = "argilla",
    ):
        self.data_dir = Path(data_dir or default_data_dir()).expanduser().resolve()
        self.venv_dir = Path(venv_dir or default_venv_dir()).expanduser()
        self.host, self.port, self.username, self.workspace = host, port, username, workspace

    @property
    def state_file(self) -> Path:
        return self.data_dir / "server.json"

    @property
    def log_dir(self) -> Path:
        return self.data_dir / "logs"

    def _procs(self) -> list[_Proc]:
        if not self.state_file.is_file():
            return []
        return [_Proc(**p) for p in json.loads(self.state_file.read_text())["processes"]]

    def _credentials(self, url: str) -> Credentials:
        path = self.data_dir / "credentials.json"
        if path.is_file():
            saved = json.loads(path.read_text())
        else:
            saved = {
                "username": self.username,
                "password": secrets.token_urlsafe(12),
                "api_key": "magpie." + secrets.token_urlsafe(24),
                "workspace": self.workspace,
            }
            path.touch(mode=0o600)
            path.write_text(json.dumps(saved, indent=2) + "\n")
        return Credentials(api_url=url, **saved)

    def is_running(self) -> bool:
        procs = self._procs()
        return bool(procs) and all(p.alive() for p in procs)

    def start(self, timeout: float = 180.0, echo: Callable[[str], None] = print) -> Credentials:
        """Starts Redis, the API server and the worker; returns once the API answers with the
        owner's key. A no-op (returning the credentials) when this data directory's server is up."""
        if self.is_running():
            return read_credentials(self.data_dir)
        self._stop_leftovers()
        redis = shutil.which("redis-server")
        if redis is None:
            raise MagpieError(REDIS_INSTALL_HINT)
        if _port_in_use(self.host, self.port):
            raise MagpieError(f"port {self.port} on {self.host} is already in use: choose another with --port")
        python = ensure_venv(self.venv_dir, echo)

        t0 = time.monotonic()
        for sub in ("argilla", "redis", "logs"):
            (self.data_dir / sub).mkdir(parents=True, exist_ok=True)
        url = f"http://{self.host}:{self.port}"
        creds = self._credentials(url)
        redis_port = _free_port()
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("ARGILLA_", "MAGPIE_REVIEW_"))},
            "PYTHONPATH": str(PLUGIN_DIR),
            "ARGILLA_HOME_PATH": str(self.data_dir / "argilla"),
            "ARGILLA_SEARCH_ENGINE": ENGINE_NAME,
            "ARGILLA_REDIS_URL": f"redis://127.0.0.1:{redis_port}/0",
            "HF_HUB_DISABLE_TELEMETRY": "1",
            "HF_HUB_OFFLINE": "1",
            "MAGPIE_REVIEW_USERNAME": creds.username,
            "MAGPIE_REVIEW_WORKSPACE": creds.workspace,
        }
        procs = []
        try:
            procs.append(self._spawn("redis", [
                redis, "--port", str(redis_port), "--bind", "127.0.0.1", "--dir", str(self.data_dir / "redis"),
                "--save", "", "--appendonly", "no", "--daemonize", "no",
            ], env))
            self._write_state(url, redis_port, procs)
            self._wait(lambda: _redis_ping(redis_port), procs, 15, "redis")
            launch = str(PLUGIN_DIR / "magpie_launch.py")
            server_env = {**env, "MAGPIE_REVIEW_PASSWORD": creds.password, "MAGPIE_REVIEW_API_KEY": creds.api_key}
            procs.append(self._spawn(
                "server", [str(python), launch, "serve", "--host", self.host, "--port", str(self.port)], server_env
            ))
            procs.append(self._spawn("worker", [str(python), launch, "worker"], env))
            self._write_state(url, redis_port, procs)
            self._wait(lambda: _http_ok(f"{url}/api/v1/me", creds.api_key), procs, timeout, "server")
        except BaseException:
            for p in reversed(procs):
                p.stop()
            self.state_file.unlink(missing_ok=True)
            raise
        echo(f"review server ready in {time.monotonic() - t0:.1f} s")
        return creds

    def _spawn(self, name: str, cmd: list, env: dict) -> _Proc:
        with open(self.log_dir / f"{name}.log", "ab") as log:
            popen = subprocess.Popen(
                cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, env=env,
                cwd=self.data_dir, start_new_session=True,  # own process group: stop() signals exactly it
            )
        start = None
        for _ in range(50):
            start = _start_time(popen.pid)
            if start is not None or popen.poll() is not None:
                break
            time.sleep(0.01)
        return _Proc(name, popen.pid, start)

    def _write_state(self, url: str, redis_port: int, procs: list[_Proc]) -> None:
        state = {"url": url, "redis_port": redis_port, "processes": [asdict(p) for p in procs]}
        self.state_file.write_text(json.dumps(state, indent=2) + "\n")

    def _wait(self, ready: Callable[[], bool], procs: list[_Proc], timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if ready():
                return
            for p in procs:
                _reap(p.pid)
                if not p.alive():
                    log = self.log_dir / f"{p.name}.log"
                    raise MagpieError(f"review {p.name} exited during start: {_log_tail(log)} (see {log})")
            time.sleep(0.2)
        raise MagpieError(f"review {what} did not become ready within {timeout:.0f} s (see {self.log_dir})")

    def _stop_leftovers(self) -> None:
        """A half-dead previous run (e.g. the worker crashed): stop what is left of it."""
        for p in reversed(self._procs()):
            p.stop()
        self.state_file.unlink(missing_ok=True)

    def stop(self) -> list[str]:
        """Stops the processes `start` launched for this data directory (and only those)."""
        stopped = [p.name for p in reversed(self._procs()) if p.stop()]
        self.state_file.unlink(missing_ok=True)
        return stopped

    def status(self) -> dict:
        procs = self._procs()
        state = json.loads(self.state_file.read_text()) if self.state_file.is_file() else {}
        url = state.get("url")
        info = {
            "running": bool(procs) and all(p.alive() for p in procs),
            "url": url,
            "data_dir": str(self.data_dir),
            "processes": {p.name: {"pid": p.pid, "alive": p.alive(), "rss_mb": _group_rss_mb(p.pid) if p.alive()
                                   else 0.0} for p in procs},
        }
        if info["running"]:
            creds = read_credentials(self.data_dir)
            info["healthy"] = _http_ok(f"{url}/api/v1/me", creds.api_key)
            info["username"] = creds.username
        return info
