"""docker-compose.yml, checked statically (no Docker engine runs here)."""

from __future__ import annotations

import re
import subprocess
import sys

import yaml

from .conftest import REPO


def test_compose_is_consistent() -> None:
    compose = yaml.safe_load((REPO / "docker-compose.yml").read_text())
    services = compose["services"]
    assert {"postgresql", "temporal", "temporal-ui", "worker"} <= set(services)
    volumes = set(compose.get("volumes", {}))
    for name, svc in services.items():
        deps = svc.get("depends_on", [])
        for dep in deps if isinstance(deps, list) else deps.keys():
            assert dep in services, f"{name} depends on unknown service {dep}"
        for mount in svc.get("volumes", []):
            source = mount.split(":", 1)[0]
            assert source.startswith((".", "/")) or source in volumes, f"{name}: {source}"
    assert services["temporal"]["environment"]["DB"].startswith("postgres")
    build = services["worker"]["build"]
    assert (REPO / build["context"] / build["dockerfile"]).is_file()
    env = services["worker"]["environment"]
    assert env["TEMPORAL_ADDRESS"] == "temporal:7233"
    assert "OPENAI_API_KEY" in env and "ANTHROPIC_API_KEY" in env


def test_worker_runs_a_real_cli_command() -> None:
    compose = yaml.safe_load((REPO / "docker-compose.yml").read_text())
    command = compose["services"]["worker"]["command"]
    dockerfile = (REPO / "Dockerfile").read_text()
    assert re.search(r'ENTRYPOINT \["tutelage"\]', dockerfile)
    r = subprocess.run([sys.executable, "-m", "tutelage", command[0], "--help"],
                       capture_output=True, text=True, timeout=60)  # fmt: skip
    assert r.returncode == 0 and "--config" in r.stdout
    # Every file the Dockerfile copies exists in the repository.
    for line in dockerfile.splitlines():
        if line.startswith("COPY "):
            for src in line.split()[1:-1]:
                assert (REPO / src).exists(), src
