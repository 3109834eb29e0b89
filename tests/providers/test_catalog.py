"""Calling members from the config alone (what the local-model worker knows)."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import make_config
from tutelage.policy.evolution import spawn_template, spawned_id
from tutelage.providers.catalog import ConfigCatalog


def test_spawned_members_call_as_their_candidate(tmp_path: Path) -> None:
    cfg = make_config(tmp_path, candidates=[
        {"id": "cand", "model": "openai/cand-model", "input_price": 2e-6, "output_price": 4e-6},
        {"id": "cand-big", "model": "openai/big-model"},
    ])  # fmt: skip
    catalog = ConfigCatalog(cfg)
    assert catalog.spec("sup").model == "openai/sup-model"  # type: ignore[union-attr]
    spawned = catalog.spec(spawned_id("cand", "math"))
    assert spawned is not None and spawned.model == "openai/cand-model"
    assert spawned.id == "cand-math" and spawned.template == "cand"
    assert catalog.price("cand-math").of(1000, 1000) == 2e-3 + 4e-3
    # The longest candidate id that fits wins.
    assert catalog.spec(spawned_id("cand-big", "law")).model == "openai/big-model"  # type: ignore[union-attr]
    assert catalog.spec("stranger") is None and catalog.price("stranger").of(5, 5) == 0.0


def test_spawn_template_reads_the_id_rule() -> None:
    assert spawn_template(spawned_id("a b", "x/y"), ["a b", "c"]) == "a b"
    assert spawn_template("c", ["c"]) is None
