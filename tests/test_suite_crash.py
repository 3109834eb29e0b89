"""A test run that dies of a native crash leaves no server behind: the suite's Temporal dev
server is started with a parent-death signal, so the kernel stops it when pytest dies."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from tutelage.workers.devserver import port_in_use

from .conftest import REPO

CRASHING_TEST = '''
import os
import signal


async def test_crash(temporal_env):
    port = temporal_env.client.service_client.config.target_host.rsplit(":", 1)[1]
    with open(os.environ["PORT_FILE"], "w") as f:
        f.write(port)
    os.kill(os.getpid(), signal.SIGSEGV)
'''


def test_a_segfaulting_test_run_leaves_no_dev_server(tmp_path: Path) -> None:
    (tmp_path / "test_crash.py").write_text(CRASHING_TEST)
    port_file = tmp_path / "port"
    ini = ["-o", "asyncio_mode=auto", "-o", "asyncio_default_fixture_loop_scope=session",
           "-o", "asyncio_default_test_loop_scope=session"]  # fmt: skip
    r = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "tests.conftest", *ini,
         "--rootdir", str(tmp_path), str(tmp_path / "test_crash.py")],
        cwd=REPO, env={**os.environ, "PORT_FILE": str(port_file)},
        capture_output=True, text=True, timeout=180,
    )  # fmt: skip
    assert r.returncode == -11, r.stdout[-2000:] + r.stderr[-2000:]  # pytest died of SIGSEGV
    port = int(port_file.read_text())
    deadline = time.monotonic() + 15
    while port_in_use("127.0.0.1", port) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not port_in_use("127.0.0.1", port), "the dev server outlived the crashed test run"
