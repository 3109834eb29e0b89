"""The roster read model, discovered domains and tuned settings, in the worker's DuckDB.

MemberWorkflows own each member's state; every transition is written here by an activity so
the query path (which reads the roster on every recall) and the CLI's reports see it.
"""

from __future__ import annotations

import json
from typing import Any

from ..models import PeerPanel
from ..models.lifecycle import MemberState, ThresholdChange, Transition
from .ledger import Ledger

_SCHEMA = """
CREATE TABLE IF NOT EXISTS members (
    member_id VARCHAR PRIMARY KEY,
    state VARCHAR NOT NULL,          -- MemberState as JSON
    updated_at TIMESTAMP DEFAULT current_timestamp
);
CREATE TABLE IF NOT EXISTS transitions (
    member_id VARCHAR NOT NULL,
    seq INTEGER NOT NULL,
    domain VARCHAR NOT NULL,
    action VARCHAR NOT NULL,
    from_role VARCHAR NOT NULL,
    to_role VARCHAR NOT NULL,
    reason VARCHAR,
    by_whom VARCHAR,
    at_time VARCHAR,
    PRIMARY KEY (member_id, seq)
);
CREATE TABLE IF NOT EXISTS clusters (
    name VARCHAR PRIMARY KEY,
    centroid DOUBLE[] NOT NULL,
    updated_at TIMESTAMP DEFAULT current_timestamp
);
CREATE TABLE IF NOT EXISTS judges (
    domain VARCHAR PRIMARY KEY,
    member_id VARCHAR NOT NULL
);
CREATE TABLE IF NOT EXISTS peer_panels (
    domain VARCHAR PRIMARY KEY,
    panel VARCHAR NOT NULL           -- PeerPanel as JSON
);
CREATE SEQUENCE IF NOT EXISTS routing_change_seq;
CREATE TABLE IF NOT EXISTS routing_changes (
    seq INTEGER DEFAULT nextval('routing_change_seq') PRIMARY KEY,
    before VARCHAR NOT NULL,
    after VARCHAR NOT NULL,
    objective_before DOUBLE,
    objective_after DOUBLE,
    rows INTEGER,
    reason VARCHAR,
    created_at TIMESTAMP DEFAULT current_timestamp
);
"""


class RosterStore:
    def __init__(self, ledger: Ledger) -> None:
        self._ledger = ledger
        ledger.execute(_SCHEMA)

    def write(self, state: MemberState, transition: Transition | None) -> None:
        """Upsert the member's state; the transition row is keyed by its sequence number."""
        self._ledger.execute(
            "INSERT OR REPLACE INTO members VALUES (?, ?, current_timestamp)",
            [state.spec.id, state.model_dump_json()],
        )
        if transition is not None:
            t = transition
            self._ledger.execute(
                "INSERT OR IGNORE INTO transitions VALUES (?,?,?,?,?,?,?,?,?)",
                [t.member_id, state.transitions, t.domain, t.action.value, t.from_role.value,
                 t.to_role.value, t.reason, t.by, t.at],
            )  # fmt: skip

    def states(self) -> list[MemberState]:
        rows = self._ledger.rows("SELECT state FROM members ORDER BY member_id")
        return [MemberState.model_validate_json(r[0]) for r in rows]

    def transitions(self, limit: int = 1000) -> list[Transition]:
        rows = self._ledger.rows(
            "SELECT member_id, domain, action, from_role, to_role, reason, by_whom, at_time "
            "FROM transitions ORDER BY at_time, member_id, seq LIMIT ?",
            [limit],
        )
        keys = ("member_id", "domain", "action", "from_role", "to_role", "reason", "by", "at")
        return [Transition.model_validate(dict(zip(keys, r, strict=True))) for r in rows]

    def clusters(self) -> dict[str, list[float]]:
        rows = self._ledger.rows("SELECT name, centroid FROM clusters ORDER BY name")
        return {r[0]: list(r[1]) for r in rows}

    def replace_clusters(self, centroids: dict[str, list[float]]) -> None:
        self._ledger.transaction(
            [("DELETE FROM clusters", [])]
            + [
                ("INSERT INTO clusters VALUES (?, ?, current_timestamp)", [name, c])
                for name, c in centroids.items()
            ]  # fmt: skip
        )

    def judges(self) -> dict[str, str]:
        return {r[0]: r[1] for r in self._ledger.rows("SELECT domain, member_id FROM judges")}

    def replace_judges(self, judges: dict[str, str],
                       peers: dict[str, PeerPanel] | None = None) -> None:  # fmt: skip
        """The promotion cycle's hand-overs: teacher-judges and peer panels, per domain."""
        self._ledger.transaction(
            [("DELETE FROM judges", []), ("DELETE FROM peer_panels", [])]
            + [("INSERT INTO judges VALUES (?, ?)", [d, m]) for d, m in sorted(judges.items())]
            + [("INSERT INTO peer_panels VALUES (?, ?)", [d, p.model_dump_json()])
               for d, p in sorted((peers or {}).items())]  # fmt: skip
        )

    def peers(self) -> dict[str, PeerPanel]:
        rows = self._ledger.rows("SELECT domain, panel FROM peer_panels ORDER BY domain")
        return {r[0]: PeerPanel.model_validate_json(r[1]) for r in rows}

    def add_routing_change(self, change: ThresholdChange) -> None:
        self._ledger.execute(
            "INSERT INTO routing_changes (before, after, objective_before, objective_after, rows,"
            " reason) VALUES (?,?,?,?,?,?)",
            [json.dumps(change.before), json.dumps(change.after), change.objective_before,
             change.objective_after, change.rows, change.reason],
        )  # fmt: skip

    def routing_overrides(self) -> dict[str, Any]:
        """The latest tuned routing values, to lay over the configured ones."""
        rows = self._ledger.rows("SELECT after FROM routing_changes ORDER BY seq DESC LIMIT 1")
        return json.loads(rows[0][0]) if rows else {}

    def routing_changes(self) -> list[ThresholdChange]:
        rows = self._ledger.rows(
            "SELECT before, after, objective_before, objective_after, rows, reason "
            "FROM routing_changes ORDER BY seq"
        )
        return [ThresholdChange(before=json.loads(r[0]), after=json.loads(r[1]),
                                objective_before=r[2], objective_after=r[3], rows=r[4],
                                reason=r[5] or "") for r in rows]  # fmt: skip
