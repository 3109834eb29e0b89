"""The exemplar bank keeps tenants apart: each row carries its tenant, every read names the
tenants it may return, and a bank from before rows carried one shows its rows to nobody until
they are given their tenant."""

from __future__ import annotations

from pathlib import Path

import lancedb
import pyarrow as pa

from tutelage.models.lifecycle import Exemplar
from tutelage.store.exemplars import TABLE, ExemplarBank
from tutelage.store.memory import Memory


def _ex(eid: str, tenant: str, question: str = "What is 6*7?", domain: str = "math") -> Exemplar:
    return Exemplar(exemplar_id=eid, domain=domain, question=f"{question} ({tenant})",
                    answer=f"42 for {tenant}", source="sup", score=1.0, tenant=tenant)  # fmt: skip


def test_nearest_and_all_return_only_the_tenants_asked_for(tmp_path: Path) -> None:
    bank = ExemplarBank(tmp_path / "x", 4)
    # The same question asked by two tenants: the same vector, two rows.
    bank.add([(_ex("qa", "a"), [1, 0, 0, 0]), (_ex("qb", "b"), [1, 0, 0, 0])])
    bank.add([(_ex("qb2", "b", "Another"), [0, 1, 0, 0])])
    near = [1.0, 0.0, 0.0, 0.0]
    assert [e.exemplar_id for e in bank.nearest("math", near, 5, 2, ["a"])] == ["qa"]
    got_b = bank.nearest("math", near, 5, 2, ["b"])
    assert [e.exemplar_id for e in got_b] == ["qb", "qb2"]
    assert all(e.tenant == "b" and "(a)" not in e.question for e in got_b)
    assert {e.exemplar_id for e in bank.nearest(None, near, 5, 2, ["a", "b"])} == {"qa", "qb",
                                                                                   "qb2"}  # fmt: skip
    assert bank.nearest("math", near, 5, 2, []) == [], "no tenants named: nothing"
    assert bank.nearest("math", near, 5, 1, ["b"])[0].version == 1
    assert {e.exemplar_id for e in bank.all(tenants=["b"])} == {"qb", "qb2"}
    assert {e.exemplar_id for e in bank.all(1)} == {"qa", "qb"}
    assert bank.all(tenants=[]) == []
    assert bank.tenants() == {"a", "b"}
    # Reopened, the rows keep their tenants.
    again = ExemplarBank(tmp_path / "x", 4)
    assert [e.tenant for e in again.nearest("math", near, 1, 2, ["a"])] == ["a"]


def test_a_bank_from_before_tenants_loads_and_shows_its_rows_to_nobody_until_assigned(
    tmp_path: Path,
) -> None:
    old_schema = pa.schema([
        ("exemplar_id", pa.string()), ("version", pa.int64()), ("domain", pa.string()),
        ("question", pa.string()), ("answer", pa.string()), ("source", pa.string()),
        ("score", pa.float64()), ("reasoning", pa.string()),
        ("vector", pa.list_(pa.float32(), 4)),
    ])  # fmt: skip
    db = lancedb.connect(str(tmp_path / "x"))
    table = db.create_table(TABLE, schema=old_schema)
    table.add([{"exemplar_id": eid, "version": 1, "domain": "math", "question": f"q {eid}",
                "answer": "42", "source": "sup", "score": 1.0, "reasoning": "",
                "vector": [1, 0, 0, 0]} for eid in ("qa", "qb", "lost")])  # fmt: skip

    bank = ExemplarBank(tmp_path / "x", 4)
    near = [1.0, 0.0, 0.0, 0.0]
    assert bank.size() == 3 and bank.version() == 1
    assert bank.nearest("math", near, 5, 1, ["a"]) == []
    assert bank.nearest("math", near, 5, 1, ["a", "b", "default"]) == []
    assert {e.tenant for e in bank.all()} == {""}
    assert bank.untenanted() == {"qa", "qb", "lost"}

    # Their tenants come from the memory (the exemplar id is the query id); the rest stay
    # unknown.
    memory = Memory(tmp_path / "m", 4)
    memory.add([{"query_id": q, "tenant": t, "text": q, "norm": q, "domain": "math",
                 "config_version": "v", "vector": [1, 0, 0, 0], "scores": {"sup": 1.0},
                 "final_answer": "42", "winner": "sup"} for q, t in (("qa", "a"), ("qb", "b"))])  # fmt: skip
    found = memory.tenants_of(bank.untenanted())
    assert found == {"qa": "a", "qb": "b"}
    assert bank.assign_tenants(found) == 2
    assert bank.assign_tenants(found) == 0, "a row's tenant, once known, is not reassigned"
    assert [e.exemplar_id for e in bank.nearest("math", near, 5, 1, ["a"])] == ["qa"]
    assert [e.exemplar_id for e in bank.nearest("math", near, 5, 1, ["b"])] == ["qb"]
    assert bank.untenanted() == {"lost"}
    bank.add([(_ex("new", "a"), [1, 0, 0, 0])])
    assert bank.version() == 2
    assert {e.exemplar_id for e in bank.nearest("math", near, 5, 2, ["a"])} == {"qa", "new"}
