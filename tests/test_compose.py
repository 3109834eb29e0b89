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
    assert {"postgresql", "temporal", "temporal-ui", "store", "answerer", "gateway"} <= set(services)
    assert services["gateway"]["ports"] == ["8000:8000"]
    volumes = set(compose.get("volumes", {}))
    for name, svc in services.items():
        deps = svc.get("depends_on", [])
        for dep in deps if isinstance(deps, list) else deps.keys():
            assert dep in services, f"{name} depends on unknown service {dep}"
        for mount in svc.get("volumes", []):
            source = mount.split(":", 1)[0]
            assert source.startswith((".", "/")) or source in volumes, f"{name}: {source}"
    assert services["temporal"]["environment"]["DB"].startswith("postgres")
    for name in ("store", "answerer"):
        build = services[name]["build"]
        assert (REPO / build["context"] / build["dockerfile"]).is_file()
        env = services[name]["environment"]
        assert env["TEMPORAL_ADDRESS"] == "temporal:7233"
        assert "OPENAI_API_KEY" in env and "ANTHROPIC_API_KEY" in env
    # The store owner keeps the school's data on a volume; answer workers hold none.
    assert any(m.endswith(":/data") for m in services["store"]["volumes"])
    assert "volumes" not in services["answerer"]


def test_answerers_scale() -> None:
    """`docker compose up --scale answerer=4` needs a service that can run four times: no
    fixed container name, no published host port, nothing on a volume."""
    answerer = yaml.safe_load((REPO / "docker-compose.yml").read_text())["services"]["answerer"]
    assert "container_name" not in answerer and "ports" not in answerer
    assert answerer["command"][:3] == ["worker", "--role", "answer"]


def test_services_run_real_cli_commands() -> None:
    compose = yaml.safe_load((REPO / "docker-compose.yml").read_text())
    dockerfile = (REPO / "Dockerfile").read_text()
    assert re.search(r'ENTRYPOINT \["tutelage"\]', dockerfile)
    for name in ("store", "answerer", "gateway"):
        command = compose["services"][name]["command"]
        r = subprocess.run([sys.executable, "-m", "tutelage", command[0], "--help"],
                           capture_output=True, text=True, timeout=60)  # fmt: skip
        assert r.returncode == 0 and "--config" in r.stdout
        for flag in (a for a in command if a.startswith("--")):
            assert flag in r.stdout, f"{name}: {command[0]} has no {flag}"
        if "--role" in command:
            assert command[command.index("--role") + 1] in r.stdout  # a role the command knows
    # Every file the Dockerfile copies exists in the repository.
    for line in dockerfile.splitlines():
        if line.startswith("COPY "):
            for src in line.split()[1:-1]:
                assert (REPO / src).exists(), src
