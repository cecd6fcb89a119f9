"""Servers for the completion-server engine tests, all on loopback with free ports:

- `LlamaServer`: the real llama-cpp-python server (`python -m llama_cpp.server`) on a GGUF file.
- `LlamaCppServer`: the real llama.cpp C++ `llama-server`, built by scripts/install_llama_server.py.
- `StandIn`: NOT a real vLLM / SGLang / TGI / llama-server. A few lines of `http.server` that
  record every request and answer in the documented format of the server they stand in for
  (which endpoints exist, what `/v1/models` says, whether prompts may be token ids, whether a
  string prompt gets a BOS). Their "model" is a script; they tokenize with the embedded GGUF's
  real vocabulary, so the token ids the engine sends can be checked exactly.
- `FaultProxy`: a proxy in front of a real server that injects faults per request.
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Callable, Optional
from urllib.parse import urlparse


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LlamaServer:
    """llama-cpp-python's own server process (its own model loading, not our engine's)."""

    def __init__(self, model_path: str, log_dir: Path, *, threads: int = 1, api_key: Optional[str] = None,
                 n_ctx: int = 2048, port: Optional[int] = None) -> None:
        self.port = port or free_port()  # a given port: a restart where the previous one was
        self.url = f"http://127.0.0.1:{self.port}/v1"
        self.log = log_dir / f"llama-server-{self.port}.log"
        cmd = [sys.executable, "-m", "llama_cpp.server", "--model", model_path, "--host", "127.0.0.1",
               "--port", str(self.port), "--n_threads", str(threads), "--n_threads_batch", str(threads),
               "--n_ctx", str(n_ctx)]
        if api_key:
            cmd += ["--api_key", api_key]
        self._api_key = api_key
        with open(self.log, "wb") as log:
            self.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)

    def wait_ready(self, timeout: float = 120.0) -> "LlamaServer":
        deadline = time.monotonic() + timeout
        headers = {"Authorization": f"Bearer {self._api_key}"} if self._api_key else {}
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"llama server exited ({self.proc.returncode}): {self.log.read_text()[-2000:]}")
            try:
                with urllib.request.urlopen(urllib.request.Request(f"{self.url}/models", headers=headers),
                                            timeout=2) as r:
                    if r.status == 200:
                        return self
            except OSError:
                time.sleep(0.3)
        self.stop()
        raise RuntimeError(f"llama server not ready after {timeout} s: {self.log.read_text()[-2000:]}")

    def kill(self) -> None:
        """SIGKILL, as a crash or an OOM kill would end it."""
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=15)

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=15)


ROOT = Path(__file__).resolve().parents[2]


def llama_server_binary() -> Optional[str]:
    """The llama-server that scripts/install_llama_server.py built for this machine, or None."""
    done = subprocess.run([sys.executable, str(ROOT / "scripts" / "install_llama_server.py"), "--path"],
                          capture_output=True, text=True)
    return done.stdout.strip() or None if done.returncode == 0 else None


class LlamaCppServer(LlamaServer):
    """llama.cpp's own C++ `llama-server` (`-np` decoding slots sharing a `-c` context)."""

    def __init__(self, model_path: str, log_dir: Path, *, binary: str, threads: int = 1, slots: int = 2,
                 n_ctx: int = 4096, port: Optional[int] = None) -> None:
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}/v1"
        self.log = log_dir / f"llama-cpp-server-{self.port}.log"
        self._api_key = None
        cmd = [binary, "-m", model_path, "--host", "127.0.0.1", "--port", str(self.port), "-t", str(threads),
               "-tb", str(threads), "-np", str(slots), "-c", str(n_ctx * slots)]
        with open(self.log, "wb") as log:
            self.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)


class _Server:
    """A threaded loopback HTTP server whose handler calls `self.handle(handler)`."""

    def __init__(self) -> None:
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, like real servers

            def log_message(self, *args):
                pass

            def _dispatch(self):
                owner.handle(self)

            do_GET = do_POST = _dispatch

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()

    def handle(self, h: BaseHTTPRequestHandler) -> None:
        raise NotImplementedError


def read_json(h: BaseHTTPRequestHandler) -> Optional[dict]:
    raw = h.rfile.read(int(h.headers.get("Content-Length") or 0))
    return json.loads(raw) if raw else None


def send_json(h: BaseHTTPRequestHandler, status: int, data, headers: Optional[dict] = None) -> None:
    body = json.dumps(data).encode()
    h.send_response(status)
    h.send_header("Content-Type", "application/json")
    h.send_header("Content-Length", str(len(body)))
    for k, v in (headers or {}).items():
        h.send_header(k, v)
    h.end_headers()
    h.wfile.write(body)


# kind -> (owned_by in /v1/models, takes token-id prompts, adds a BOS to string prompts)
KINDS = {
    "vllm": ("vllm", True, True),
    "sglang": ("sglang", True, True),
    "llama.cpp": ("llamacpp", True, True),
    "tgi": ("tgi-model", False, True),
}


class StandIn(_Server):
    """Stands in for a vLLM / SGLang / TGI / llama-server (`kind`); NOT the real server.

    `script(prompt_ids, body, sample)` returns the generated text and finish reason of one
    sample; the stand-in records `seen` (the prompt token ids its "model" received) and every
    request body, and answers with `usage` counted from those ids."""

    BOS = 1  # the embedded SmolLM2's BOS (<|im_start|>), added to string prompts as vLLM/TGI do for Llama

    def __init__(self, kind: str, tokenize: Callable[[str], list[int]],
                 script: Callable[[list[int], dict, int], tuple[str, str]], *, props: Optional[dict] = None,
                 max_stop: int = 4) -> None:
        super().__init__()
        self.kind, self.tok, self.script, self.props, self.max_stop = kind, tokenize, script, props, max_stop
        self.owner, self.takes_ids, self.adds_bos = KINDS[kind]
        self.requests: list[tuple[str, str, Optional[dict]]] = []
        self.seen: list[list[int]] = []
        self.lock = threading.Lock()

    def completions(self) -> list[dict]:
        return [b for m, p, b in self.requests if p == "/v1/completions" and b.get("max_tokens") != 1]

    def handle(self, h: BaseHTTPRequestHandler) -> None:
        body = read_json(h) if h.command == "POST" else None
        path = urlparse(h.path).path
        with self.lock:
            self.requests.append((h.command, path, body))
        if path == "/v1/models":
            return send_json(h, 200, {"object": "list", "data": [{"id": "standin-model", "owned_by": self.owner}]})
        if path == "/props" and self.kind == "llama.cpp":
            return send_json(h, 200, {"default_generation_settings": {}, **(self.props or {})})
        if path == "/info" and self.kind == "tgi":
            return send_json(h, 200, {"model_id": "standin-model", "max_stop_sequences": self.max_stop})
        if path == "/tokenize" and self.kind in ("vllm", "sglang"):
            add = body.get("add_special_tokens", True)
            return send_json(h, 200, {"tokens": ([self.BOS] if add else []) + self.tok(body["prompt"])})
        if path == "/tokenize" and self.kind == "llama.cpp":
            add = body.get("add_special", False)
            return send_json(h, 200, {"tokens": ([self.BOS] if add else []) + self.tok(body["content"])})
        if path == "/tokenize" and self.kind == "tgi":  # TGI always adds the special tokens
            ids = [self.BOS] + self.tok(body["inputs"])
            return send_json(h, 200, [{"id": i, "text": "", "start": 0, "stop": 0} for i in ids])
        if path == "/v1/completions":
            return self._complete(h, body)
        send_json(h, 404, {"detail": "Not Found"})

    def _complete(self, h: BaseHTTPRequestHandler, body: dict) -> None:
        prompt = body["prompt"]
        if isinstance(prompt, list) and prompt and isinstance(prompt[0], int):
            if not self.takes_ids:
                return send_json(h, 422, {"error": "prompt must be a string"})
            ids = list(prompt)
        else:
            ids = ([self.BOS] if self.adds_bos else []) + self.tok(prompt)
        if body.get("max_tokens") == 1:  # the engine's probe
            return send_json(h, 200, {"choices": [{"index": 0, "text": "!", "finish_reason": "length"}],
                                      "usage": {"prompt_tokens": len(ids), "completion_tokens": 1}})
        with self.lock:
            self.seen.append(ids)
        n = body.get("n", 1) if self.kind in ("vllm", "sglang") else 1
        choices, generated = [], 0
        for i in range(n):
            text, finish = self.script(ids, body, i)
            out = self.tok(text)
            generated += len(out)
            choice = {"index": i, "text": text, "finish_reason": finish}
            if body.get("return_token_ids"):
                choice["token_ids"] = out
            if finish == "repetition":
                choice["stop_reason"] = "repetition_detected"
            choices.append(choice)
        send_json(h, 200, {"id": "cmpl-standin", "object": "text_completion", "choices": choices,
                           "usage": {"prompt_tokens": len(ids), "completion_tokens": generated}})


class ChatOnly(_Server):
    """Stands in for a chat-only OpenAI-compatible endpoint (OpenAI's API for chat models,
    Ollama's OpenAI layer): /v1/models and /v1/chat/completions, no raw completions."""

    def __init__(self, completions_status: int = 404,
                 message: str = "This is a chat model and not supported in the v1/completions endpoint. "
                                "Did you mean to use v1/chat/completions?") -> None:
        super().__init__()
        self.status, self.message = completions_status, message
        self.chat_calls = 0

    def handle(self, h: BaseHTTPRequestHandler) -> None:
        read_json(h) if h.command == "POST" else None
        path = urlparse(h.path).path
        if path == "/v1/models":
            return send_json(h, 200, {"object": "list", "data": [{"id": "gpt-4o", "owned_by": "system"}]})
        if path == "/v1/chat/completions":
            self.chat_calls += 1
            return send_json(h, 200, {"choices": [{"index": 0, "message": {"role": "assistant", "content": "Hi"},
                                                   "finish_reason": "stop"}]})
        send_json(h, self.status, {"error": {"message": self.message, "type": "invalid_request_error"}})


class FaultProxy(_Server):
    """Forwards to a real server and injects, per /v1/completions request, the next fault of
    `faults`: "500", "503", "429:SECONDS" (with Retry-After), "drop" (close without answering),
    "drop-after" (forward, then close without answering: the server did the work), "slow:SECONDS"
    (answer late), "hang" (never answer). Other paths pass through. Records what it did."""

    def __init__(self, target: str, faults: Optional[list[str]] = None, *, match: str = "/v1/completions") -> None:
        super().__init__()
        self.target = urlparse(target)
        self.faults = list(faults or [])
        self.match = match
        self.log: list[str] = []  # one entry per matching request: the fault or "ok"
        self.bodies: list[dict] = []
        self.times: list[float] = []  # when each matching request arrived
        self.forwarded = 0
        self.requests: list[tuple[str, str]] = []  # (method, path) of every request, any path
        self.lock = threading.Lock()
        self.release = threading.Event()  # ends "hang"s at shutdown

    def __exit__(self, *exc):
        self.release.set()
        super().__exit__(*exc)

    def _forward(self, h: BaseHTTPRequestHandler, raw: bytes) -> tuple[int, list, bytes]:
        conn = http.client.HTTPConnection(self.target.hostname, self.target.port, timeout=300)
        headers = {k: v for k, v in h.headers.items() if k.lower() not in ("host", "connection", "content-length")}
        conn.request(h.command, h.path, body=raw or None, headers=headers)
        r = conn.getresponse()
        data = r.read()
        conn.close()
        return r.status, r.getheaders(), data

    def handle(self, h: BaseHTTPRequestHandler) -> None:
        raw = h.rfile.read(int(h.headers.get("Content-Length") or 0))
        with self.lock:
            self.requests.append((h.command, urlparse(h.path).path))
        fault, counted = "ok", False
        if h.path.startswith(self.match):
            body = json.loads(raw)
            with self.lock:
                if body.get("max_tokens") != 1:  # the engine's load probe passes untouched
                    fault = self.faults.pop(0) if self.faults else "ok"
                    counted = True
                    self.log.append(fault)
                    self.bodies.append(body)
                    self.times.append(time.monotonic())
        kind, _, arg = fault.partition(":")
        if kind in ("500", "503"):
            return send_json(h, int(kind), {"error": {"message": "injected fault"}})
        if kind == "429":
            return send_json(h, 429, {"error": {"message": "slow down"}}, {"Retry-After": arg or "1"})
        if kind == "drop":
            h.close_connection = True
            h.connection.shutdown(socket.SHUT_RDWR)
            return
        if kind == "hang":
            self.release.wait(timeout=600)
            h.close_connection = True
            return
        status, headers, data = self._forward(h, raw)
        with self.lock:
            self.forwarded += counted  # generations the server did (the load probe aside)
        if kind == "drop-after":
            h.close_connection = True
            h.connection.shutdown(socket.SHUT_RDWR)
            return
        if kind == "slow":
            time.sleep(float(arg or 2))
        h.send_response(status)
        for k, v in headers:
            if k.lower() not in ("transfer-encoding", "connection", "content-length"):
                h.send_header(k, v)
        h.send_header("Content-Length", str(len(data)))
        h.end_headers()
        try:
            h.wfile.write(data)
        except OSError:  # the client gave up on a slow answer
            pass
