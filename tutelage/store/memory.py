"""LanceDB memory of past queries: their embeddings, scores and final answers.

Only the worker opens it. Appends are idempotent (a row whose query id is already stored is
skipped), and all writes go through one lock because LanceDB's concurrent writers are unsafe.
Past a few thousand rows an ANN index keeps look-ups fast; it is rebuilt as the table grows.
"""

from __future__ import annotations

import json
import threading
from datetime import timedelta
from pathlib import Path
from typing import Any

import lancedb
import pyarrow as pa
from lancedb.index import IvfSq

from ..models import Neighbour

TABLE = "queries"
INDEX_MIN_ROWS = 4096
INDEX_GROWTH = 0.25  # rebuild once unindexed rows exceed this share of the indexed ones
# Every append makes a new fragment that later searches must open; compact this often. One-row
# appends to 2k rows, CPU per append plus one search: every 8 appends 14.9 ms, 16: 12.9 ms,
# 32: 13.1 ms, 64: 17.2 ms (searches over up to 64 fragments cost 9.2 ms against 5.5 ms).
COMPACT_EVERY_APPENDS = 16
# Versions older than this are deleted on compaction; a search still reading one finishes first.
KEEP_VERSIONS_FOR = timedelta(minutes=1)


def _quote(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


class Memory:
    def __init__(self, path: Path, dim: int) -> None:
        path.mkdir(parents=True, exist_ok=True)
        self.dim = dim
        self._db = lancedb.connect(str(path))
        self._uri = str(path)
        self._reader: lancedb.AsyncTable | None = None  # opened by the first nearest_async
        self._lock = threading.Lock()
        schema = pa.schema(
            [
                ("query_id", pa.string()),
                ("tenant", pa.string()),
                ("text", pa.string()),
                ("norm", pa.string()),
                ("domain", pa.string()),
                ("config_version", pa.string()),
                ("vector", pa.list_(pa.float32(), dim)),
                ("scores", pa.string()),
                ("final_answer", pa.string()),
                ("winner", pa.string()),
            ]
        )
        self._table = self._db.create_table(TABLE, schema=schema, exist_ok=True)
        existing = self._table.schema.field("vector").type
        if getattr(existing, "list_size", dim) != dim:
            raise RuntimeError(
                f"the memory at {path} holds {existing.list_size}-d embeddings but the configured "
                f"embedder makes {dim}-d ones; use another data_dir or the original embedder"
            )
        # Only this process writes the table (the worker owns its stores), so it counts the rows
        # it appends instead of asking the table after every append.
        self._rows = self._table.count_rows()
        self._indexed_rows = self._rows if self._has_index() else 0
        self._appends = 0

    def _has_index(self) -> bool:
        # Index types list in lancedb's own spelling (IVF_SQ as "IvfSq").
        return any(i.index_type.lower().startswith("ivf") for i in self._table.list_indices())

    def count(self, tenant: str | None = None) -> int:
        return self._table.count_rows(f"tenant = {_quote(tenant)}" if tenant else None)

    def _stored_ids(self, query_ids: list[str]) -> set[str]:
        if not query_ids:
            return set()
        found = (
            self._table.search()
            .where(f"query_id IN ({', '.join(_quote(q) for q in query_ids)})")
            .select(["query_id"])
            .limit(len(query_ids) * 2)
            .to_list()
        )
        return {r["query_id"] for r in found}

    def add(self, rows: list[dict[str, Any]], maybe_stored: set[str] | None = None) -> set[str]:
        """Append rows whose query id is new; returns the query ids written.

        `maybe_stored` narrows the duplicate check (a filtered scan) to the ids that may already
        be here; None checks every row.
        """
        with self._lock:
            ids = [r["query_id"] for r in rows]
            if maybe_stored is not None:
                ids = [i for i in ids if i in maybe_stored]
            stored = self._stored_ids(ids)
            fresh, seen = [], set(stored)
            for r in rows:
                if r["query_id"] not in seen:
                    seen.add(r["query_id"])
                    fresh.append(r)
            if fresh:
                for r in fresh:
                    r["scores"] = json.dumps(r.get("scores") or {})
                self._table.add(fresh)
                self._rows += len(fresh)
                self._appends += 1
                if self._appends % COMPACT_EVERY_APPENDS == 0:
                    self._table.optimize(cleanup_older_than=KEEP_VERSIONS_FOR)
            self._maybe_reindex()
        return {r["query_id"] for r in fresh}

    def _maybe_reindex(self) -> None:
        total = self._rows
        growth = total - self._indexed_rows
        if total < INDEX_MIN_ROWS or growth < max(
            INDEX_MIN_ROWS, INDEX_GROWTH * self._indexed_rows
        ):
            return
        partitions = max(8, min(256, int(total**0.5) // 4))
        # IVF_SQ, not IVF_HNSW_SQ: at 100k rows the HNSW variant took 15 s to build and the first
        # optimize() after each build 51-53 s, both under the write lock that record batches wait
        # on (IVF_SQ: 4.4 s and 1.7 s; look-up p95 15.6 against 16.0 ms; recall@16 of random
        # vectors against exact search 0.96 against 0.16). benchmarks/query_path.py measures it.
        self._table.create_index(
            "vector", config=IvfSq(distance_type="cosine", num_partitions=partitions), replace=True
        )
        self._indexed_rows = total

    async def nearest_async(self, tenant: str, vector: list[float], k: int) -> list[Neighbour]:
        """The k stored queries of `tenant` nearest to `vector` (cosine), awaited on the
        caller's event loop.

        Not through the sync table: it hops to lancedb's background loop and reads the table
        schema up to three times per search (~5.5 ms of CPU against ~3.6 ms for the same search
        on an async handle, 2k rows). The async handle checks for the latest version on every
        read, so it sees each append the sync handle makes.
        """
        if self._reader is None:
            db = await lancedb.connect_async(self._uri, read_consistency_interval=timedelta(0))
            self._reader = await db.open_table(TABLE)
        rows = await (
            self._reader.query()
            .nearest_to(vector)
            .distance_type("cosine")
            .where(f"tenant = {_quote(tenant)}")  # a prefilter: the async API's default
            .limit(k)
            .nprobes(16)
            .to_list()
        )
        return [self._neighbour(r, 1.0 - float(r["_distance"])) for r in rows]

    def vectors(self, limit: int) -> list[list[float]]:
        """The `limit` most recently stored query embeddings (for domain discovery): a scan
        reads rows in the order they were appended, so skip all but the last `limit`."""
        skip = max(0, self._rows - limit)
        rows = self._table.search().select(["vector"]).offset(skip).limit(limit).to_list()
        return [list(r["vector"]) for r in rows]

    def winners(self, member_ids: list[str], limit: int) -> list[dict[str, Any]]:
        """Stored queries whose final answer came from one of `member_ids`."""
        if not member_ids:
            return []
        where = f"winner IN ({', '.join(_quote(m) for m in member_ids)})"
        rows = self._table.search().where(where).limit(limit).to_list()
        for r in rows:
            r["scores"] = json.loads(r["scores"] or "{}")
            r["vector"] = list(r["vector"])
        return rows

    def tenants_of(self, query_ids: set[str]) -> dict[str, str]:
        """The tenant of each stored query among `query_ids` (query id -> tenant)."""
        ids = sorted(query_ids)
        found: dict[str, str] = {}
        for i in range(0, len(ids), 500):
            batch = ids[i : i + 500]
            rows = (
                self._table.search()
                .where(f"query_id IN ({', '.join(_quote(q) for q in batch)})")
                .select(["query_id", "tenant"])
                .limit(len(batch) * 2)
                .to_list()
            )
            found.update((r["query_id"], r["tenant"]) for r in rows)
        return found

    def by_ids(self, query_ids: set[str]) -> dict[str, dict[str, Any]]:
        """The stored rows of `query_ids` (text, domain, tenant, vector, ...), by query id; a
        query the memory does not hold (a cache hit, a failure) is left out."""
        ids = sorted(query_ids)
        found: dict[str, dict[str, Any]] = {}
        for i in range(0, len(ids), 500):
            batch = ids[i : i + 500]
            rows = (self._table.search()
                    .where(f"query_id IN ({', '.join(_quote(q) for q in batch)})")
                    .limit(len(batch) * 2).to_list())  # fmt: skip
            for r in rows:
                r["scores"] = json.loads(r["scores"] or "{}")
                r["vector"] = list(r["vector"])
                found[r["query_id"]] = r
        return found

    def held_out(self, member_ids: list[str], excluded: set[str], n: int) -> list[dict[str, Any]]:
        """Up to n judged queries won by `member_ids` that are not in the exemplar bank."""
        rows = [r for r in self.winners(member_ids, n + len(excluded))
                if r["query_id"] not in excluded and r["scores"]]  # fmt: skip
        return rows[:n]

    @staticmethod
    def _neighbour(row: dict[str, Any], similarity: float) -> Neighbour:
        return Neighbour(
            query_id=row["query_id"],
            similarity=similarity,
            text=row["text"],
            domain=row["domain"],
            scores=json.loads(row["scores"] or "{}"),
            final_answer=row["final_answer"],
            winner=row["winner"],
            config_version=row["config_version"] or "",
        )
