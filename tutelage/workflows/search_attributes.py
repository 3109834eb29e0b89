"""Custom search attributes set on every query run, so the Temporal UI can filter runs."""

from __future__ import annotations

from typing import Any

from temporalio.common import SearchAttributeKey

ROUTE = SearchAttributeKey.for_keyword("TutelageRoute")
WINNER = SearchAttributeKey.for_keyword("TutelageWinner")
TENANT = SearchAttributeKey.for_keyword("TutelageTenant")
COST = SearchAttributeKey.for_float("TutelageCostUsd")

ALL: list[SearchAttributeKey[Any]] = [ROUTE, WINNER, TENANT, COST]


def dev_server_flags() -> list[str]:
    """`temporal server start-dev` arguments that register the attributes at start."""
    kinds: dict[SearchAttributeKey[Any], str] = {
        ROUTE: "Keyword",
        WINNER: "Keyword",
        TENANT: "Keyword",
        COST: "Double",
    }
    flags: list[str] = []
    for key, kind in kinds.items():
        flags += ["--search-attribute", f"{key.name}={kind}"]
    return flags
