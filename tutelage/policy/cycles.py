"""Which learning cycles a query starts: every N recorded queries, per cycle."""

from __future__ import annotations

CYCLES = ("promotion", "evolution", "distillation")


def due_cycles(queries_recorded: int, every: dict[str, int]) -> list[str]:
    """Cycles whose period divides the ledger's query count (0 turns a trigger off)."""
    if queries_recorded <= 0:
        return []
    return [c for c in CYCLES if every.get(c, 0) > 0 and queries_recorded % every[c] == 0]


def cycle_workflow_id(cycle: str, scope: str, queries_recorded: int) -> str:
    """Readable and unique per school and trigger point: a retried trigger starts nothing twice."""
    return f"{cycle}-{scope}-at-{queries_recorded}" if scope else f"{cycle}-at-{queries_recorded}"
