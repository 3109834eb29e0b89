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
from ..policy.feedback import USER_JUDGE

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
CREATE TABLE IF NOT EXISTS feedback (     -- every rating users gave a served answer (history)
    feedback_id VARCHAR PRIMARY KEY,      -- unique per rating: a retried write lands once
    query_id VARCHAR NOT NULL,
    tenant VARCHAR NOT NULL,
    seq INTEGER NOT NULL,                 -- 1 = the query's first rating; the newest stands
    score DOUBLE NOT NULL,
    rating VARCHAR,                       -- up | down, when sent as a rating
    comment VARCHAR,
    correction VARCHAR,
    source VARCHAR,                       -- api | cli
    created_at TIMESTAMP DEFAULT current_timestamp
);
CREATE TABLE IF NOT EXISTS corrections (  -- the newest correction of a query's answer: a gold
    query_id VARCHAR PRIMARY KEY,         -- exemplar for its tenant at the next distillation
    tenant VARCHAR NOT NULL,
    domain VARCHAR,
    correction VARCHAR NOT NULL,
    seq INTEGER NOT NULL,                 -- the rating (feedback.seq) that sent it
    created_at TIMESTAMP DEFAULT current_timestamp
);
"""


_ROWS_PER_STATEMENT = 256


# One query to record: its result, domain, the config version, and the API key it is charged to.
Outcome = tuple[QueryResult, str | None, str] | tuple[QueryResult, str | None, str, str | None]


class FeedbackContext(NamedTuple):
    """A rated query's record: whose answer was served, who else answered, how they were
    judged and which answers agreed."""

    tenant: str
    domain: str | None
    served: str | None
    answered: list[str]
    scores: dict[str, float]  # the judge's (best) score per member, never a user's
    pairs: list[tuple[str, str, bool]]  # (member_a, member_b, agreed)
    ratings: int = 0  # the ratings its history holds (besides the one being written)


class FeedbackRow(NamedTuple):
    """One rating, as the `feedback` table keeps it (its seq is given when written)."""

    feedback_id: str
    query_id: str
    tenant: str
    score: float
    rating: str | None = None
    comment: str = ""
    correction: str = ""
    source: str = "api"


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
            # One thread: every statement goes through this handle's lock one at a time, and
            # most are a few rows, where DuckDB's thread pool costs more than it saves (a
            # one-row INSERT: 2.7 CPU ms on two threads, 1.4 on one).
            self._db = duckdb.connect(str(path), config={"threads": 1})
        except duckdb.IOException as exc:
            raise RuntimeError(
                f"cannot open the ledger {path}: {exc}. Only one worker process may own a data "
                "directory; stop the other one or give this worker its own data_dir."
            ) from None
        self._lock = threading.Lock()
        self._db.execute(_SCHEMA)
        # How many queries the ledger holds: counted once, then kept by the one process that
        # writes them (only record_many adds queries).
        self._recorded: int | None = None

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
            if self._recorded is None:
                self._recorded = self._total_and_stored([])[0]
            if len(set(ids)) == len(ids):
                fresh = self._write_fresh(ids, rows, self._recorded)
                if fresh is not None:
                    self._recorded += len(ids)
                    return fresh
            return self._write_checked(ids, rows)

    def _write_fresh(self, ids: list[str], rows: _Rows, total: int) -> list[Recorded] | None:
        """The batch as plain INSERTs, for queries new to the ledger (all but a retried record);
        None, with nothing written, when any of them was already here."""
        self._db.execute("BEGIN TRANSACTION")
        try:
            for table, table_rows in rows.tables():
                self._insert(table, [r for _, r in table_rows], ignore_conflicts=False)
            self._db.execute("COMMIT")
        except duckdb.ConstraintException:
            # A query's rows land in one transaction, so a key already present means a query
            # recorded before: the checked path sorts out which.
            self._db.execute("ROLLBACK")
            return None
        except Exception:
            self._db.execute("ROLLBACK")
            raise
        return [Recorded(rows.calls_of[i], rows.verdicts_of[i], total + n)
                for n, i in enumerate(ids, start=1)]  # fmt: skip

    def _write_checked(self, ids: list[str], rows: _Rows) -> list[Recorded]:
        """The batch with the queries already recorded found first: their rows go in as
        INSERT OR IGNORE and count only what is new."""
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
        self._recorded = next_place
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

    def user_scores(self) -> dict[str, dict[str, float]]:
        """Every query's current user verdicts: member scores by query id."""
        out: dict[str, dict[str, float]] = {}
        for qid, member, score in self.rows(
                "SELECT query_id, member_id, score FROM verdicts WHERE judge = 'user' "
                "AND score IS NOT NULL"):  # fmt: skip
            out.setdefault(qid, {})[member] = float(score)
        return out

    def key_spend(self, day: str, month: str) -> tuple[dict[str, float], dict[str, float]]:
        """Each charged key's spend in the UTC day and month: (day, month), by key id."""
        with self._lock:
            rows = self._db.execute(
                "SELECT key_id, sum(cost_usd) FILTER (WHERE day = ?), sum(cost_usd)"
                " FROM key_charges WHERE month = ? GROUP BY key_id", [day, month]).fetchall()  # fmt: skip
        return ({r[0]: float(r[1] or 0.0) for r in rows}, {r[0]: float(r[2] or 0.0) for r in rows})

    def feedback_context(self, query_id: str, tenant: str | None,
                         feedback_id: str = "") -> FeedbackContext | None:  # fmt: skip
        """What a rating of the query needs to know (None: no such query, or another tenant's):
        its tenant, domain and served member, the members whose answers succeeded, the judge's
        scores (never users') and the recorded agreements between answers."""
        with self._lock:
            found = self._db.execute(
                "SELECT tenant, domain, winner FROM queries WHERE query_id = ?"
                " AND (? IS NULL OR tenant = ?)", [query_id, tenant, tenant]).fetchone()  # fmt: skip
            if found is None:
                return None
            answered = [r[0] for r in self._db.execute(
                "SELECT DISTINCT member_id FROM calls WHERE query_id = ? AND kind <> 'judge'"
                " AND error IS NULL ORDER BY 1", [query_id]).fetchall()]  # fmt: skip
            scores = {r[0]: float(r[1]) for r in self._db.execute(
                "SELECT member_id, max(score) FROM verdicts WHERE query_id = ? AND judge <> ?"
                " AND score IS NOT NULL GROUP BY 1", [query_id, USER_JUDGE]).fetchall()}  # fmt: skip
            pairs = [(r[0], r[1], bool(r[2])) for r in self._db.execute(
                "SELECT member_a, member_b, agreed FROM agreements WHERE query_id = ?",
                [query_id]).fetchall()]  # fmt: skip
            # Other ratings than `feedback_id`: a retried write of one already kept is not new.
            rated = self._db.execute("SELECT count(*) FROM feedback WHERE query_id = ?"
                                     " AND feedback_id <> ?", [query_id, feedback_id]).fetchone()  # fmt: skip
        return FeedbackContext(tenant=found[0], domain=found[1], served=found[2],
                               answered=answered, scores=scores, pairs=pairs,
                               ratings=int(rated[0]) if rated else 0)  # fmt: skip

    def write_feedback(self, fb: FeedbackRow, domain: str | None,
                       verdicts: list[tuple[str, float, str]]) -> tuple[int, bool]:  # fmt: skip
        """Record one rating in one transaction: a row of the query's history (`feedback`),
        its user verdicts (judge `user`) replacing the query's earlier ones, and its
        correction, if any, replacing the query's earlier one. Returns (its place in the
        query's history, whether it was new): a rating already recorded (a retried write,
        by its feedback id) changes nothing."""
        with self._lock:
            self._db.execute("BEGIN TRANSACTION")
            try:
                known = self._db.execute("SELECT seq FROM feedback WHERE feedback_id = ?",
                                         [fb.feedback_id]).fetchone()  # fmt: skip
                if known is not None:
                    self._db.execute("ROLLBACK")
                    return int(known[0]), False
                row = self._db.execute("SELECT coalesce(max(seq), 0) + 1 FROM feedback"
                                       " WHERE query_id = ?", [fb.query_id]).fetchone()  # fmt: skip
                seq = int(row[0]) if row else 1
                self._db.execute(
                    "INSERT INTO feedback VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, DEFAULT)",
                    [fb.feedback_id, fb.query_id, fb.tenant, seq, fb.score, fb.rating,
                     fb.comment or None, fb.correction or None, fb.source])  # fmt: skip
                members = [m for m, _, _ in verdicts]
                # Upserts, then the rest deleted: DuckDB may refuse a key deleted and inserted
                # again in one transaction.
                self._db.execute(
                    "DELETE FROM verdicts WHERE query_id = ? AND judge = ?"
                    " AND NOT list_contains(?::VARCHAR[], member_id)",
                    [fb.query_id, USER_JUDGE, members])  # fmt: skip
                for member, score, reasoning in verdicts:
                    self._db.execute(
                        "INSERT INTO verdicts (query_id, member_id, judge, tenant, domain, score,"
                        " reasoning) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO UPDATE SET"
                        " score = excluded.score, reasoning = excluded.reasoning,"
                        " created_at = excluded.created_at",
                        [fb.query_id, member, USER_JUDGE, fb.tenant, domain, score, reasoning])  # fmt: skip
                if fb.correction:
                    self._db.execute(
                        "INSERT INTO corrections VALUES (?, ?, ?, ?, ?, DEFAULT)"
                        " ON CONFLICT DO UPDATE SET correction = excluded.correction,"
                        " seq = excluded.seq, created_at = excluded.created_at",
                        [fb.query_id, fb.tenant, domain, fb.correction, seq])  # fmt: skip
                self._db.execute("COMMIT")
            except Exception:
                self._db.execute("ROLLBACK")
                raise
        return seq, True

    def corrections(self) -> list[tuple[str, str, str | None, str, int]]:
        """Every query's standing correction: (query id, tenant, domain, text, seq)."""
        with self._lock:
            rows = self._db.execute("SELECT query_id, tenant, domain, correction, seq"
                                    " FROM corrections ORDER BY query_id").fetchall()  # fmt: skip
        return [(r[0], r[1], r[2], r[3], int(r[4])) for r in rows]

    def served_user_scores(self) -> dict[str, float]:
        """The standing user verdict on each rated query's served answer: query id -> score."""
        with self._lock:
            rows = self._db.execute("SELECT v.query_id, v.score FROM verdicts v JOIN queries q"
                                    " ON q.query_id = v.query_id AND q.winner = v.member_id"
                                    " WHERE v.judge = ? AND v.score IS NOT NULL",
                                    [USER_JUDGE]).fetchall()  # fmt: skip
        return {r[0]: float(r[1]) for r in rows}

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
