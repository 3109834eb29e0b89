"""The per-domain exemplar bank in LanceDB: winning answers that students see as examples.

Rows are appended (never merged), each with the bank version that added it, so a student pinned
to version v sees exactly the rows of versions <= v. Each row carries the tenant whose query it
answered, and every read names the tenants it may return (`policy.distill.exemplar_tenants`).
Only the worker writes, under one lock.
"""

from __future__ import annotations

import threading
from pathlib import Path

import lancedb
import pyarrow as pa

from ..models.lifecycle import UNKNOWN_TENANT, Exemplar

TABLE = "exemplars"
_BATCH = 500  # ids per IN (...) filter


def _quote(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _tenant_filter(tenants: list[str]) -> str:
    return f"tenant IN ({', '.join(_quote(t) for t in sorted(set(tenants)))})"


class ExemplarBank:
    def __init__(self, path: Path, dim: int) -> None:
        path.mkdir(parents=True, exist_ok=True)
        # The highest version ever given out: withdrawn rows are deleted, and a version a
        # member passed the gate at must never be given to other rows after them.
        self._floor_path = path / "version-floor"
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
                ("tenant", pa.string()),
            ]
        )
        try:  # opened as it is: a bank written before the tenant column has another schema
            self._table = self._db.open_table(TABLE)
        except ValueError:  # not there yet
            self._table = self._db.create_table(TABLE, schema=schema, exist_ok=True)
        if "tenant" not in self._table.schema.names:
            # A bank from before exemplars carried a tenant: its rows' tenant is unknown (shown
            # to nobody) until `assign_tenants` gives them theirs.
            self._table.add_columns({"tenant": f"CAST({_quote(UNKNOWN_TENANT)} AS STRING)"})

    def version(self) -> int:
        rows = self._table.search().select(["version"]).limit(None).to_list() if self.size() else []
        return max((int(r["version"]) for r in rows), default=0)

    def _floor(self) -> int:
        try:
            return int(self._floor_path.read_text().strip() or 0)
        except (FileNotFoundError, ValueError):
            return 0

    def size(self) -> int:
        return self._table.count_rows()

    def ids(self) -> set[str]:
        if not self.size():
            return set()
        rows = self._table.search().select(["exemplar_id"]).limit(None).to_list()
        return {r["exemplar_id"] for r in rows}

    def tenants(self) -> set[str]:
        """The tenants that have rows (the unknown one included, when rows lack theirs)."""
        if not self.size():
            return set()
        rows = self._table.search().select(["tenant"]).limit(None).to_list()
        return {r["tenant"] or UNKNOWN_TENANT for r in rows}

    def untenanted(self) -> set[str]:
        """Ids of the rows whose tenant is unknown (banked before rows carried one)."""
        if not self.size():
            return set()
        where = f"tenant IS NULL OR tenant = {_quote(UNKNOWN_TENANT)}"
        rows = self._table.search().where(where).select(["exemplar_id"]).limit(None).to_list()
        return {r["exemplar_id"] for r in rows}

    def assign_tenants(self, tenants: dict[str, str]) -> int:
        """Give rows of unknown tenant theirs (exemplar id -> tenant); returns how many."""
        by_tenant: dict[str, list[str]] = {}
        for exemplar_id, tenant in tenants.items():
            if tenant != UNKNOWN_TENANT:
                by_tenant.setdefault(tenant, []).append(exemplar_id)
        done = 0
        with self._lock:
            for tenant, ids in sorted(by_tenant.items()):
                ids.sort()
                for i in range(0, len(ids), _BATCH):
                    where = (f"exemplar_id IN ({', '.join(_quote(x) for x in ids[i:i + _BATCH])})"
                             f" AND (tenant IS NULL OR tenant = {_quote(UNKNOWN_TENANT)})")  # fmt: skip
                    found = self._table.count_rows(where)
                    if found:
                        self._table.update(where=where, values={"tenant": tenant})
                        done += found
        return done

    def add(self, exemplars: list[tuple[Exemplar, list[float]]]) -> int:
        """Append the new ones as the next version; returns (how many were added)."""
        with self._lock:
            known = self.ids()
            fresh = [(e, v) for e, v in exemplars if e.exemplar_id not in known]
            if not fresh:
                return 0
            version = max(self.version(), self._floor()) + 1
            self._table.add([{**e.model_dump(), "version": version, "vector": v}
                             for e, v in fresh])  # fmt: skip
            return len(fresh)

    def withdraw(self, exemplar_ids: set[str]) -> int:
        """Delete these rows (users found them wrong, or a newer correction replaced them);
        returns how many were there. Versions never go back: the highest given out is kept."""
        with self._lock:
            gone = sorted(exemplar_ids & self.ids())
            if not gone:
                return 0
            self._floor_path.write_text(str(max(self.version(), self._floor())))
            self._table.delete("exemplar_id IN (" + ", ".join(_quote(i) for i in gone) + ")")
            return len(gone)

    def nearest(
        self,
        domain: str | None,
        vector: list[float],
        k: int,
        max_version: int,
        tenants: list[str],
    ) -> list[Exemplar]:
        """The k rows of `tenants` (and of `domain`, when given) up to `max_version` nearest to
        `vector`. No tenants, no rows: a caller must say whose exemplars it may be given."""
        if k <= 0 or max_version <= 0 or not tenants or not self.size():
            return []
        where = f"version <= {int(max_version)} AND {_tenant_filter(tenants)}"
        if domain:
            where += f" AND domain = {_quote(domain)}"
        rows = (
            self._table.search(vector, vector_column_name="vector")
            .metric("cosine")  # type: ignore[attr-defined]
            .where(where, prefilter=True)
            .limit(k)
            .to_list()
        )
        return [self._exemplar(r) for r in rows]

    def all(
        self, max_version: int | None = None, tenants: list[str] | None = None
    ) -> list[Exemplar]:
        """Every row up to `max_version`; of `tenants` only, when given."""
        if not self.size() or tenants == []:
            return []
        clauses = []
        if max_version is not None:
            clauses.append(f"version <= {int(max_version)}")
        if tenants is not None:
            clauses.append(_tenant_filter(tenants))
        query = self._table.search()
        if clauses:
            query = query.where(" AND ".join(clauses))
        rows = query.limit(None).to_list()
        return [self._exemplar(r) for r in rows]

    @staticmethod
    def _exemplar(row: dict[str, object]) -> Exemplar:
        values = {k: row[k] for k in Exemplar.model_fields}
        values["tenant"] = values["tenant"] or UNKNOWN_TENANT
        return Exemplar.model_validate(values)
