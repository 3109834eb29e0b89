"""DuckDB ledger: every call, verdict and query outcome.

DuckDB allows one read-write process, so only the worker opens it. Every row has a natural
key, and a query's rows land in one transaction: rows of a query the ledger already holds (a
retried record activity) go in with INSERT OR IGNORE, so a retry never duplicates a row.
"""

from __future__ import annotations

import threading
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NamedTuple

import duckdb

from ..models import QueryResult
from ..policy.answers import billed_tokens

_SCHEMA = """
CREATE TABLE IF NOT EXISTS calls (
    call_id VARCHAR PRIMARY KEY,
    query_id VARCHAR NOT NULL,
    tenant VARCHAR NOT NULL,
    member_id VARCHAR NOT NULL,
    kind VARCHAR NOT NULL,          -- answer | shadow | judge
    tokens_in INTEGER NOT NULL,
    tokens_out INTEGER NOT NULL,
    cost_usd DOUBLE NOT NULL,
    latency_ms DOUBLE NOT NULL,
    error VARCHAR,
    error_kind VARCHAR,
    created_at TIMESTAMP DEFAULT current_timestamp
);
CREATE TABLE IF NOT EXISTS verdicts (
    query_id VARCHAR NOT NULL,
    member_id VARCHAR NOT NULL,
    judge VARCHAR NOT NULL,
    tenant VARCHAR NOT NULL,
    domain VARCHAR,
    score DOUBLE,
    correctness DOUBLE,
    relevance DOUBLE,
    completeness DOUBLE,
    clarity DOUBLE,
    reasoning VARCHAR,
    created_at TIMESTAMP DEFAULT current_timestamp,
    PRIMARY KEY (query_id, member_id, judge)
);
CREATE TABLE IF NOT EXISTS agreements (   -- two members' answers to one query: agreed or not
    query_id VARCHAR NOT NULL,
    tenant VARCHAR NOT NULL,
    domain VARCHAR,
    member_a VARCHAR NOT NULL,
    member_b VARCHAR NOT NULL,
    agreed BOOLEAN NOT NULL,
    created_at TIMESTAMP DEFAULT current_timestamp,
    PRIMARY KEY (query_id, member_a, member_b)
);
CREATE TABLE IF NOT EXISTS queries (
    query_id VARCHAR PRIMARY KEY,
    workflow_id VARCHAR,
    tenant VARCHAR NOT NULL,
    domain VARCHAR,
    route VARCHAR NOT NULL,
    status VARCHAR NOT NULL,
    winner VARCHAR,
    nearest_similarity DOUBLE,
    cost_usd DOUBLE NOT NULL,
    supervisor_only_cost_usd DOUBLE NOT NULL,
    supervisor_called BOOLEAN NOT NULL,
    cache_hit BOOLEAN NOT NULL,
    latency_ms DOUBLE,
    error VARCHAR,
    config_version VARCHAR,
    created_at TIMESTAMP DEFAULT current_timestamp
);
CREATE TABLE IF NOT EXISTS key_charges (  -- what each query of a limited API key cost it
    query_id VARCHAR PRIMARY KEY,
    key_id VARCHAR NOT NULL,
    tenant VARCHAR NOT NULL,
    cost_usd DOUBLE NOT NULL,
    tokens BIGINT NOT NULL,
    day VARCHAR NOT NULL,            -- the UTC day and month it counts in: 2026-11-22, 2026-11
    month VARCHAR NOT NULL,
    created_at TIMESTAMP DEFAULT current_timestamp
);
"""


_ROWS_PER_STATEMENT = 256


# One query to record: its result, domain, the config version, and the API key it is charged to.
Outcome = tuple[QueryResult, str | None, str] | tuple[QueryResult, str | None, str, str | None]


class Recorded(NamedTuple):
    calls: int  # call rows newly written
    verdicts: int  # verdict rows newly written
    position: int  # the query's place in recording order (1 = the first ever recorded)
    # The query was already in the ledger before this batch (a retried record), so its memory
    # row may exist too; a query new to the ledger cannot have one (memory is written after).
    seen_before: bool = False


class _Rows:
    """A batch's rows per table, each once by its key (INSERT OR IGNORE's rule, kept in Python
    so that new queries can use plain INSERTs), with how many each query contributes."""

    def __init__(self) -> None:
        self._tables: dict[str, dict[tuple[Any, ...], tuple[str, list[Any]]]] = {
            "calls": {}, "verdicts": {}, "agreements": {}, "queries": {}, "key_charges": {},
        }  # fmt: skip
        self.calls_of: Counter[str] = Counter()
        self.verdicts_of: Counter[str] = Counter()

    def add(self, q: QueryResult, domain: str | None, version: str,
            key_id: str | None = None) -> None:  # fmt: skip
        qid = q.query_id
        for c in q.calls:
            call_id = f"{qid}:{c.member_id}:{c.kind}"
            if self._put("calls", (call_id,), qid, [
                call_id, qid, q.tenant, c.member_id, c.kind, c.tokens_in, c.tokens_out,
                c.cost_usd, c.latency_ms, c.error, c.error_kind,
            ]):  # fmt: skip
                self.calls_of[qid] += 1
        for v in q.verdicts:
            a = v.aspects
            if self._put("verdicts", (qid, v.member_id, v.judge), qid, [
                qid, v.member_id, v.judge, q.tenant, domain, v.score,
                a.correctness if a else None, a.relevance if a else None,
                a.completeness if a else None, a.clarity if a else None, v.reasoning,
            ]):  # fmt: skip
                self.verdicts_of[qid] += 1
        for check in q.agreements:
            self._put("agreements", (qid, check.member_a, check.member_b), qid,
                      [qid, q.tenant, domain, check.member_a, check.member_b, check.agreed])  # fmt: skip
        self._put("queries", (qid,), qid, [
            qid, q.workflow_id, q.tenant, domain, q.route.value, q.status, q.winner,
            q.nearest_similarity, q.cost_usd, q.supervisor_only_cost_usd, q.supervisor_called,
            q.cache_hit, q.latency_ms, q.error, version,
        ])  # fmt: skip
        if key_id:
            now = datetime.now(UTC)
            self._put("key_charges", (qid,), qid, [qid, key_id, q.tenant, q.cost_usd,
                                                   billed_tokens(q), now.date().isoformat(),
                                                   now.strftime("%Y-%m")])  # fmt: skip

    def _put(self, table: str, key: tuple[Any, ...], qid: str, row: list[Any]) -> bool:
        if key in self._tables[table]:
            return False
        self._tables[table][key] = (qid, row)
        return True

    def tables(self) -> list[tuple[str, list[tuple[str, list[Any]]]]]:
        return [(name, list(rows.values())) for name, rows in self._tables.items()]


class Ledger:
    """The worker's handle on the stats database; safe to call from several threads."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        try:
            self._db = duckdb.connect(str(path))
        except duckdb.IOException as exc:
            raise RuntimeError(
                f"cannot open the ledger {path}: {exc}. Only one worker process may own a data "
                "directory; stop the other one or give this worker its own data_dir."
            ) from None
        self._lock = threading.Lock()
        self._db.execute(_SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def record(
        self, result: QueryResult, domain: str | None, config_version: str
    ) -> tuple[int, int]:
        """Write one query's calls, verdicts and outcome; returns (calls, verdicts) newly written."""
        written = self.record_many([(result, domain, config_version)])[0]
        return written.calls, written.verdicts

    def record_many(self, outcomes: list[Outcome]) -> list[Recorded]:
        """Write several queries in one transaction; per query, the rows newly written and its
        place in recording order."""
        ids = [o[0].query_id for o in outcomes]
        rows = _Rows()
        for outcome in outcomes:
            rows.add(*outcome)
        with self._lock:
            self._db.execute("BEGIN TRANSACTION")
            try:
                total, already = self._total_and_stored(ids)
                # A query's rows land in one transaction, so a query new to the ledger has no
                # rows yet: its (de-duplicated) rows go in as plain INSERTs, which cost DuckDB
                # about half an INSERT OR IGNORE; only a retried query needs the conflict check
                # and the counts before and after.
                retried = sorted(already)
                before = self._counts(retried) if retried else {}
                for table, table_rows in rows.tables():
                    fresh = [r for qid, r in table_rows if qid not in already]
                    repeat = [r for qid, r in table_rows if qid in already]
                    self._insert(table, fresh, ignore_conflicts=False)
                    self._insert(table, repeat, ignore_conflicts=True)
                after = self._counts(retried) if retried else {}
                places = self._positions(retried) if retried else {}
                self._db.execute("COMMIT")
            except Exception:
                self._db.execute("ROLLBACK")
                raise
        written: list[Recorded] = []
        credited: set[str] = set()
        next_place = total
        for i in ids:
            if i in credited:
                # The same query twice in one batch (a retry racing its first try): credit it once.
                written.append(Recorded(0, 0, places[i], i in already))
                continue
            if i in already:
                calls_new, verdicts_new = (after[i][0] - before[i][0], after[i][1] - before[i][1])
            else:
                next_place += 1
                places[i] = next_place
                calls_new, verdicts_new = rows.calls_of[i], rows.verdicts_of[i]
            written.append(Recorded(calls_new, verdicts_new, places[i], i in already))
            credited.add(i)
        return written

    def _insert(self, table: str, rows: list[list[Any]], ignore_conflicts: bool) -> None:
        """Multi-row VALUES statements: DuckDB's executemany runs one statement per row (24
        rows: ~45 ms against ~7 ms as one statement)."""
        verb = "INSERT OR IGNORE" if ignore_conflicts else "INSERT"
        for start in range(0, len(rows), _ROWS_PER_STATEMENT):
            chunk = rows[start : start + _ROWS_PER_STATEMENT]
            row = "(" + "?," * len(chunk[0]) + "DEFAULT)"
            self._db.execute(
                f"{verb} INTO {table} VALUES " + ",".join([row] * len(chunk)),
                [value for r in chunk for value in r],
            )

    def _total_and_stored(self, query_ids: list[str]) -> tuple[int, set[str]]:
        """How many queries the ledger holds, and which of these ids are among them."""
        row = self._db.execute(
            "SELECT (SELECT count(*) FROM queries), (SELECT list(query_id) FROM queries"
            " WHERE query_id IN (SELECT unnest(?::VARCHAR[])))",
            [query_ids],
        ).fetchone()
        if row is None:
            return 0, set()
        return int(row[0]), set(row[1] or [])

    def _counts(self, query_ids: list[str]) -> dict[str, tuple[int, int]]:
        """Rows already stored per query id: (calls, verdicts)."""
        rows = self._db.execute(
            """
            SELECT id,
                   (SELECT count(*) FROM calls c WHERE c.query_id = id),
                   (SELECT count(*) FROM verdicts v WHERE v.query_id = id)
            FROM unnest(?::VARCHAR[]) AS t(id)
            """,
            [query_ids],
        ).fetchall()
        return {r[0]: (int(r[1]), int(r[2])) for r in rows}

    def _positions(self, query_ids: list[str]) -> dict[str, int]:
        """Each stored query's place in recording order (1 = the first query ever recorded)."""
        rows = self._db.execute(
            "SELECT query_id, pos FROM (SELECT query_id, row_number() OVER (ORDER BY rowid) AS pos"
            " FROM queries) WHERE query_id IN (SELECT unnest(?::VARCHAR[]))",
            [query_ids],
        ).fetchall()
        return {r[0]: int(r[1]) for r in rows}

    def key_spend(self, day: str, month: str) -> tuple[dict[str, float], dict[str, float]]:
        """Each charged key's spend in the UTC day and month: (day, month), by key id."""
        with self._lock:
            rows = self._db.execute(
                "SELECT key_id, sum(cost_usd) FILTER (WHERE day = ?), sum(cost_usd)"
                " FROM key_charges WHERE month = ? GROUP BY key_id", [day, month]).fetchall()  # fmt: skip
        return ({r[0]: float(r[1] or 0.0) for r in rows}, {r[0]: float(r[2] or 0.0) for r in rows})

    def execute(self, sql: str, params: list[Any] | None = None) -> None:
        with self._lock:
            self._db.execute(sql, params or [])

    def transaction(self, statements: list[tuple[str, list[Any]]]) -> None:
        """Run statements atomically: all of them land, or none."""
        with self._lock:
            self._db.execute("BEGIN TRANSACTION")
            try:
                for sql, params in statements:
                    self._db.execute(sql, params)
                self._db.execute("COMMIT")
            except Exception:
                self._db.execute("ROLLBACK")
                raise

    def rows(self, sql: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]:
        """Read-only access for the worker's own queries and tests."""
        with self._lock:
            return self._db.execute(sql, params or []).fetchall()
