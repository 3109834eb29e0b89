"""The per-domain exemplar bank in LanceDB: winning answers that students see as examples.

Rows are appended (never merged), each with the bank version that added it, so a student pinned
to version v sees exactly the rows of versions <= v. Only the worker writes, under one lock.
"""

from __future__ import annotations

import threading
from pathlib import Path

import lancedb
import pyarrow as pa

from ..models.lifecycle import Exemplar

TABLE = "exemplars"


def _quote(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


class ExemplarBank:
    def __init__(self, path: Path, dim: int) -> None:
        path.mkdir(parents=True, exist_ok=True)
        self._db = lancedb.connect(str(path))
        self._lock = threading.Lock()
        schema = pa.schema(
            [
                ("exemplar_id", pa.string()),
                ("version", pa.int64()),
                ("domain", pa.string()),
                ("question", pa.string()),
                ("answer", pa.string()),
                ("source", pa.string()),
                ("score", pa.float64()),
                ("reasoning", pa.string()),
                ("vector", pa.list_(pa.float32(), dim)),
            ]
        )
        self._table = self._db.create_table(TABLE, schema=schema, exist_ok=True)

    def version(self) -> int:
        rows = self._table.search().select(["version"]).limit(None).to_list() if self.size() else []
        return max((int(r["version"]) for r in rows), default=0)

    def size(self) -> int:
        return self._table.count_rows()

    def ids(self) -> set[str]:
        if not self.size():
            return set()
        rows = self._table.search().select(["exemplar_id"]).limit(None).to_list()
        return {r["exemplar_id"] for r in rows}

    def add(self, exemplars: list[tuple[Exemplar, list[float]]]) -> int:
        """Append the new ones as the next version; returns (how many were added)."""
        with self._lock:
            known = self.ids()
            fresh = [(e, v) for e, v in exemplars if e.exemplar_id not in known]
            if not fresh:
                return 0
            version = self.version() + 1
            self._table.add([{**e.model_dump(), "version": version, "vector": v}
                             for e, v in fresh])  # fmt: skip
            return len(fresh)

    def nearest(
        self, domain: str | None, vector: list[float], k: int, max_version: int
    ) -> list[Exemplar]:
        if k <= 0 or max_version <= 0 or not self.size():
            return []
        where = f"version <= {int(max_version)}"
        if domain:
            where += f" AND domain = {_quote(domain)}"
        rows = (
            self._table.search(vector, vector_column_name="vector")
            .metric("cosine")  # type: ignore[attr-defined]
            .where(where, prefilter=True)
            .limit(k)
            .to_list()
        )
        return [Exemplar.model_validate({k_: r[k_] for k_ in Exemplar.model_fields}) for r in rows]

    def all(self, max_version: int | None = None) -> list[Exemplar]:
        if not self.size():
            return []
        query = self._table.search()
        if max_version is not None:
            query = query.where(f"version <= {int(max_version)}")
        rows = query.limit(None).to_list()
        return [Exemplar.model_validate({k: r[k] for k in Exemplar.model_fields}) for r in rows]
