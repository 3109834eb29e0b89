"""Tenants kept apart on the real query path: two tenants ask the same questions, the
distillation banks both tenants' winning answers, and afterwards no prompt a member receives for
one tenant holds the other's exemplars (unless the config pools the two)."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer

from tutelage.client import submit
from tutelage.models import QueryInput, QueryResult, Route
from tutelage.models.lifecycle import CycleInput, DistillResult
from tutelage.providers._litellm import litellm
from tutelage.workflows.distillation import DistillationWorkflow

ACME, GLOBEX = "acme", "globex"
# The supervisor's answers carry their tenant's secret, so a leak is visible in any prompt.
SECRET = {ACME: "ACME-CONFIDENTIAL", GLOBEX: "GLOBEX-INTERNAL"}
QUESTIONS = [
    "How many legs do seven spiders have altogether?",
    "A train travels 84 miles in two hours; what is its speed in miles per hour?",
    "What is the sum of the interior angles of a triangle, divided by four, minus three?",
    "A baker sells 6 boxes of 7 muffins each; how many muffins does she sell?",
]
# Asked by globex after the distillation: each is nearest to one of the questions above, whose
# two tenants' rows tie (the same text, the same vector).
FOLLOW_UPS = [
    "How many legs do seven spiders have in total? Explain briefly.",
    "A train goes 84 miles in 2 hours. What is its speed in mph? Explain briefly.",
    "What is the triangle's interior angle sum divided by four, minus three? Explain briefly.",
    "A baker sells six boxes of seven muffins; how many muffins in all? Explain briefly.",
]
SUP = {"id": "sup", "model": "openai/sup-model", "role": "teacher", "input_price": 1e-5,
       "output_price": 3e-5, "params": {"mock_response": "The answer is 42."}}  # fmt: skip
STU = {"id": "stu", "model": "openai/stu-model", "role": "student", "input_price": 1e-7,
       "output_price": 1e-7, "params": {"mock_response": "I do not know."}}  # fmt: skip


def _overrides(shared: list[str]) -> dict[str, Any]:
    return {
        "members": [SUP, STU],
        "limits": {"tenants": [ACME, GLOBEX]},
        # Every query novel (everyone answers, so the student is always asked), none cached.
        "embedder": {"low_threshold": 0.999, "high_threshold": 0.9995, "cache_threshold": 0.9999},
        "schedules": {"promotion_every_queries": 0, "evolution_every_queries": 0,
                      "distillation_every_queries": 0},
        # Half the winners go into the bank; the rest are the quality gate's held-out queries.
        "distillation": {"window": len(QUESTIONS), "exemplars_k": 3,
                         "shared_exemplar_tenants": shared},
    }  # fmt: skip


class Prompts:
    """Every model call's messages, by phase; the student answers right only when it was
    shown worked examples (so the quality gate adopts the new bank)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.phase = "stream"
        self.seen: list[tuple[str, str, list[dict[str, str]]]] = []
        real = litellm.acompletion

        async def capture(*args: Any, **kwargs: Any) -> Any:
            model, messages = kwargs["model"], kwargs["messages"]
            self.seen.append((self.phase, model, [dict(m) for m in messages]))
            if model == STU["model"]:
                kwargs["mock_response"] = "42" if len(messages) > 1 else "I do not know."
            return await real(*args, **kwargs)

        monkeypatch.setattr(litellm, "acompletion", capture)

    def student(self, phase: str) -> list[str]:
        """The student's prompts in `phase`, each as one text."""
        return ["\n".join(m["content"] for m in msgs) for p, model, msgs in self.seen
                if p == phase and model == STU["model"]]  # fmt: skip


async def _ask(s: Any, text: str, tenant: str) -> QueryResult:
    q = QueryInput(text=text, tenant=tenant, query_id=f"{tenant}-{uuid.uuid4().hex[:10]}",
                   call_params={"mock_response": f"The answer is 42. ({SECRET[tenant]})"})  # fmt: skip
    return await submit(s.client, s.config, q)


async def _run(school: Any, monkeypatch: pytest.MonkeyPatch,
               shared: list[str]) -> tuple[Prompts, DistillResult, Any, dict[str, str]]:  # fmt: skip
    prompts = Prompts(monkeypatch)
    async with school(**_overrides(shared)) as s:
        for text in QUESTIONS:  # the same questions, from both tenants, interleaved
            for tenant in (ACME, GLOBEX):
                r = await _ask(s, text, tenant)
                assert r.status == "ok" and r.route == Route.NOVEL and r.winner == "sup", r
        prompts.phase = "distill"
        handle = await s.client.start_workflow(
            "DistillationWorkflow", CycleInput(reason="test"),
            id=f"distillation-{uuid.uuid4().hex[:8]}", task_queue=s.config.temporal.task_queue,
            result_type=DistillResult,
        )  # fmt: skip
        distilled = await handle.result()
        bank = s.services.exemplars.all()
        assert {e.tenant for e in bank} == {ACME, GLOBEX}, "both tenants' winners are banked"
        assert all(SECRET[e.tenant] in e.answer for e in bank)
        assert s.services.school.member("stu").exemplar_version == distilled.bank_version == 1
        exports = {t: (s.config.data_dir / "distill" / t / "stu.jsonl").read_text()
                   for t in (ACME, GLOBEX)}  # fmt: skip
        prompts.phase = "after"
        for text in FOLLOW_UPS:
            r = await _ask(s, text, GLOBEX)
            assert r.status == "ok" and "stu" in r.members_asked, r
        history = await handle.fetch_history()
    return prompts, distilled, history, exports


async def test_no_prompt_for_one_tenant_holds_another_tenants_exemplars(
    school: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    prompts, distilled, history, exports = await _run(school, monkeypatch, shared=[])
    (verdict,) = distilled.gates
    assert verdict.accepted and verdict.member_id == "stu", verdict
    # The fine-tuning exports are per tenant too.
    assert set(distilled.exported_by_tenant) == {ACME, GLOBEX}
    assert SECRET[ACME] in exports[ACME] and SECRET[GLOBEX] not in exports[ACME]
    assert SECRET[GLOBEX] in exports[GLOBEX] and SECRET[ACME] not in exports[GLOBEX]

    # Before the distillation the student saw no examples at all.
    assert all(SECRET[ACME] not in p and SECRET[GLOBEX] not in p
               for p in prompts.student("stream"))  # fmt: skip
    # The quality gate re-asks each held-out query with its own tenant's examples only.
    gate = prompts.student("distill")
    assert any(SECRET[ACME] in p for p in gate) and any(SECRET[GLOBEX] in p for p in gate)
    assert not any(SECRET[ACME] in p and SECRET[GLOBEX] in p for p in gate), gate
    # Globex's queries after it: the student learns from globex's answers, never acme's.
    after = prompts.student("after")
    assert len(after) == len(FOLLOW_UPS)
    assert all(SECRET[GLOBEX] in p for p in after), after
    leaked = [p for p in after if SECRET[ACME] in p]
    assert not leaked, f"acme's text reached globex's student prompts: {leaked}"
    everything = ["\n".join(m["content"] for m in msgs)
                  for phase, _, msgs in prompts.seen if phase == "after"]  # fmt: skip
    assert not any(SECRET[ACME] in p for p in everything)
    await Replayer(workflows=[DistillationWorkflow],
                   data_converter=pydantic_data_converter).replay_workflow(history)  # fmt: skip


async def test_tenants_the_config_pools_are_shown_each_others_exemplars(
    school: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    prompts, _, _, exports = await _run(school, monkeypatch, shared=[ACME, GLOBEX])
    after = prompts.student("after")
    assert any(SECRET[ACME] in p for p in after), "a pooled tenant sees the pool's exemplars"
    assert SECRET[ACME] in exports[GLOBEX] and SECRET[GLOBEX] in exports[ACME]
