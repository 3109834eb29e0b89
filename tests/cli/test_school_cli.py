"""`tutelage members` and `tutelage member ...` against a real server and a running worker."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from temporalio.testing import WorkflowEnvironment

from .helpers import cli


def _toml(s: Any, address: str, path: Path) -> Path:
    cfg = s.config
    text = (
        f'supervisor = "sup"\ndata_dir = "{path.parent / "cli-data"}"\n'
        f'[temporal]\naddress = "{address}"\ntask_queue = "{cfg.temporal.task_queue}"\n'
        '[[members]]\nid = "sup"\nmodel = "openai/sup-model"\nrole = "teacher"\n'
        '[[members]]\nid = "stu"\nmodel = "openai/stu-model"\nrole = "student"\n'
    )
    path.write_text(text)
    return path


async def test_member_commands_move_and_refuse(
    school: Any, temporal_env: WorkflowEnvironment, tmp_path: Path
) -> None:
    stu = {"id": "stu", "model": "openai/stu-model", "role": "student",
           "params": {"mock_response": "42"}}  # fmt: skip
    sup = {"id": "sup", "model": "openai/sup-model", "role": "teacher",
           "params": {"mock_response": "42"}}  # fmt: skip
    async with school(members=[sup, stu]) as s:
        address = temporal_env.client.service_client.config.target_host
        conf = str(_toml(s, address, tmp_path / "t.toml"))
        promoted = await cli("member", "promote", "stu", "--domain", "math", "-c", conf)
        refused = await cli("member", "demote", "sup", "-c", conf)
        unknown = await cli("member", "promote", "nobody", "-c", conf)
        table = await cli("members", "-c", conf)
        narrow = await cli("members", "-c", conf, columns=80)
        as_json = await cli("members", "--json", "-c", conf, columns=80)
    assert promoted.returncode == 0, promoted.stderr
    assert "stu in math: student -> ta" in promoted.stdout
    assert refused.returncode == 1 and "supervisor" in refused.stderr
    assert unknown.returncode == 1 and "no member 'nobody'" in unknown.stderr
    assert table.returncode == 0, table.stderr
    assert "stu" in table.stdout and "math: ta" in table.stdout
    assert narrow.returncode == 0 and max(map(len, narrow.stdout.splitlines())) <= 80
    assert "math: ta" in narrow.stdout and "openai/stu-model" in narrow.stdout
    report = json.loads(as_json.stdout)
    stu = next(r for r in report["rows"] if r["member_id"] == "stu")
    assert stu["roles"]["math"] == "ta" and stu["model"] == "openai/stu-model"
