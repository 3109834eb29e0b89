"""The command line: help everywhere, and specific errors for bad configs."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from ..conftest import REPO

GOOD_MEMBERS = """
[[members]]
id = "a"
model = "openai/gpt-4o"
[[members]]
id = "b"
model = "openai/gpt-4o-mini"
"""


def tutelage(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "tutelage", *args], capture_output=True,
                          text=True, timeout=120, cwd=cwd)  # fmt: skip


@pytest.mark.parametrize(
    "command",
    [[], ["up"], ["worker"], ["down"], ["serve"], ["ask"], ["config"], ["members"],
     ["schedules", "sync"], ["evolve", "now"], ["member", "promote"], ["member", "retire"],
     ["keys", "create"], ["keys", "list"], ["keys", "revoke"], ["warm"], ["bench"], ["report"]],
)  # fmt: skip
def test_help(command: list[str]) -> None:
    r = tutelage(*command, "--help")
    assert r.returncode == 0, r.stderr
    assert "Usage" in r.stdout
    if command:
        assert "--config" in r.stdout
    else:
        for name in ("up", "worker", "down", "serve", "ask", "config", "bench", "members",
                     "member", "schedules", "evolve", "keys", "warm", "report"):  # fmt: skip
            assert name in r.stdout, name


@pytest.mark.parametrize(
    ("body", "key", "problem"),
    [
        ('supervisor = "a"\n[temporal\n' + GOOD_MEMBERS, None, "not valid TOML"),
        ('supervisor = "zz"\n' + GOOD_MEMBERS, None, "supervisor 'zz' is not one of the members"),
        ('supervisor = "a"\ncolour = 1\n' + GOOD_MEMBERS, "colour", "unknown key"),
        ('supervisor = "a"\n[routing]\nk = "many"\n' + GOOD_MEMBERS, "routing.k", "integer"),
        ('supervisor = "a"\n[[members]]\nid = "a"\nmodel = "gpt-4o"\n', "members[0] (id 'a').model",
         "no provider prefix"),
        ('supervisor = "a"\n' + GOOD_MEMBERS.replace('"b"', '"a"'), None, "repeated: a"),
        ('supervisor = "a"\n[embedder]\nlow_threshold = 0.95\nhigh_threshold = 0.9\n'
         + GOOD_MEMBERS, None, "exceeds"),
        ('supervisor = "a"\n' + GOOD_MEMBERS.replace('model = "openai/gpt-4o"\n',
         'model = "openai/gpt-4o"\ninput_price = -1\n', 1), "input_price", "greater than"),
    ],
)  # fmt: skip
def test_bad_config_names_file_key_and_problem(
    tmp_path: Path, body: str, key: str | None, problem: str
) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(body)
    r = tutelage("config", "--config", str(path))
    assert r.returncode == 2
    assert str(path) in r.stderr.replace("\n", "")
    if key:
        assert key in r.stderr
    assert problem in r.stderr.replace("\n", " ")
    assert "Traceback" not in r.stderr


def test_missing_config_file(tmp_path: Path) -> None:
    r = tutelage("config", "--config", str(tmp_path / "nope.toml"))
    assert r.returncode == 2 and "no such config file" in r.stderr


def test_embedded_default_config_is_valid() -> None:
    r = tutelage("config", cwd=REPO)
    assert r.returncode == 0, r.stderr
    assert "gpt4" in r.stdout and "mixtral" in r.stdout


def test_ask_rejects_empty_and_oversized_queries(tmp_path: Path) -> None:
    path = tmp_path / "t.toml"
    path.write_text('supervisor = "a"\n[limits]\nmax_query_chars = 10\n' + GOOD_MEMBERS)
    empty = tutelage("ask", " ", "--config", str(path))
    assert empty.returncode == 1 and "the query is empty" in empty.stderr
    huge = tutelage("ask", "x" * 11, "--config", str(path))
    assert huge.returncode == 1 and "limit is 10" in huge.stderr
    stranger = tutelage("ask", "hi", "--tenant", "zed", "--config", str(path))
    assert stranger.returncode == 1 and "unknown tenant 'zed'" in stranger.stderr
    nothing = tutelage("ask", "--config", str(path))
    assert nothing.returncode == 1 and "--sample" in nothing.stderr


def test_ask_sample_picks_a_recorded_question(tmp_path: Path) -> None:
    from tutelage.bench.datasets import prompt_key, recordings
    from tutelage.cli.ask import sample_question
    from tutelage.config import load_config

    cfg = load_config(REPO / "tutelage.toml")
    assert cfg.replay.data_dir is not None
    question = sample_question(cfg)
    assert prompt_key(question) in recordings(cfg.replay.data_dir)


def test_report_refuses_clearly_before_connecting(tmp_path: Path) -> None:
    path = tmp_path / "t.toml"
    path.write_text('supervisor = "a"\n' + GOOD_MEMBERS)
    nowhere = tutelage("report", "--config", str(path))
    assert nowhere.returncode == 1 and "--html PATH" in nowhere.stderr
    window = tutelage("report", "--json", "--window", "fortnight", "--config", str(path))
    assert window.returncode == 1 and "--window must be one of 1h, 24h, 7d, 30d, all" in window.stderr
    stranger = tutelage("report", "--json", "--tenant", "zed", "--config", str(path))
    assert stranger.returncode == 1 and "unknown tenant 'zed'" in stranger.stderr
    for r in (nowhere, window, stranger):
        assert "Traceback" not in r.stderr
