"""Every shipped config validates."""

from __future__ import annotations

from pathlib import Path

import pytest

from tutelage.config import load_config

from .conftest import REPO


@pytest.mark.parametrize("path", sorted((REPO / "examples").glob("*.toml")) + [REPO / "tutelage.toml"],
                         ids=lambda p: p.name)  # fmt: skip
def test_example_config_is_valid(path: Path) -> None:
    cfg = load_config(path)
    assert cfg.supervisor in {m.id for m in cfg.members}
