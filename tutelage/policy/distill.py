"""In-context distillation: which answers become exemplars, and how a student sees them."""

from __future__ import annotations

import hashlib
import re
from typing import Any

from ..models.lifecycle import UNKNOWN_TENANT, Exemplar, GateResult
from ..models.roster import Member, Role

LEARNING_ROLES = (Role.PROBATION, Role.STUDENT, Role.TA)


def exemplar_tenants(tenant: str, shared: list[str]) -> list[str]:
    """Whose exemplars a query of `tenant` may be shown: its own tenant's only, unless the
    config puts it in the shared pool (`distillation.shared_exemplar_tenants`), where it sees
    the whole pool's. Rows of an unknown tenant (banked before exemplars carried one) are
    shown to nobody."""
    if tenant == UNKNOWN_TENANT:
        return []
    if tenant in shared:
        return sorted({t for t in shared if t != UNKNOWN_TENANT})
    return [tenant]


def visible_to(tenant: str, shared: list[str], bank: list[Exemplar]) -> list[Exemplar]:
    """The rows of `bank` a query of `tenant` may be shown, in their order."""
    allowed = set(exemplar_tenants(tenant, shared))
    return [e for e in bank if e.tenant in allowed]


def export_dir_name(tenant: str) -> str:
    """A file-system-safe directory name for a tenant's exports: the name itself when it is
    plain, else its plain characters and a short hash (so no two tenants share one)."""
    if re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}", tenant) and ".." not in tenant:
        return tenant
    plain = re.sub(r"[^A-Za-z0-9_-]", "_", tenant)[:32]
    return f"{plain}-{hashlib.sha256(tenant.encode()).hexdigest()[:8]}"


def learns_from_exemplars(member: Member, domain: str | None) -> bool:
    """Students, TAs and members on probation get worked examples; teachers do not need them."""
    return not member.is_supervisor and member.role_in(domain) in LEARNING_ROLES


def exemplar_sources(members: list[Member]) -> list[str]:
    """Whose winning answers are worth teaching from: the supervisor and the teachers."""
    return sorted(m.id for m in members if m.is_supervisor or m.role_in(None) == Role.TEACHER)


def exemplars_for(member: Member, bank: list[Exemplar], k: int) -> list[Exemplar]:
    """The first k of the (similarity-ordered) bank rows this member's version may see."""
    return [e for e in bank if e.version <= member.exemplar_version][:k]


def exemplar_messages(
    exemplars: list[Exemplar], question: str, context: list[dict[str, Any]] | None = None,
    followup: list[dict[str, Any]] | None = None,
) -> list[dict[str, Any]]:
    """The conversation's system messages, worked examples as earlier turns (most similar
    last), the conversation's own earlier turns, the question itself, then the turns after
    it (a tool loop's calls and results).

    The question stays the last user message, exactly as asked, so providers that key on it
    (the replay provider) and the model both see the real query.
    """
    context = context or []
    messages = [m for m in context if m.get("role") == "system"]
    for e in reversed(exemplars):
        messages.append({"role": "user", "content": e.question})
        messages.append({"role": "assistant", "content": e.answer})
    messages += [m for m in context if m.get("role") != "system"]
    messages.append({"role": "user", "content": question})
    messages += followup or []
    return messages


def withdrawn_exemplars(banked: set[str], rated: dict[str, float],
                        corrections: dict[str, int], min_score: float) -> set[str]:  # fmt: skip
    """The banked exemplars users have since taken back: a served answer (its id is its query's)
    users rated below `min_score` or corrected (their correction is the exemplar now), and a
    correction (`<query>:correction-<seq>`) a newer one of the same query replaced.
    `rated` is each rated query's standing user score of its served answer, `corrections` each
    corrected query's standing correction's seq."""
    out = set()
    for eid in banked:
        query_id, _, seq = eid.partition(":correction-")
        if seq:
            if seq.isdigit() and corrections.get(query_id, int(seq)) != int(seq):
                out.add(eid)
        elif eid in corrections or rated.get(eid, min_score) < min_score:
            out.add(eid)
    return out


def choose_exemplars(
    candidates: list[Exemplar], known: set[str], min_score: float
) -> list[Exemplar]:
    """New, high-scoring winning answers, one per question (the best one)."""
    best: dict[str, Exemplar] = {}
    for e in candidates:
        if e.exemplar_id in known or e.score < min_score or not e.answer.strip():
            continue
        if e.exemplar_id not in best or e.score > best[e.exemplar_id].score:
            best[e.exemplar_id] = e
    return [best[k] for k in sorted(best)]


def gate(member_id: str, new_version: int, old_version: int,
         new_scores: list[float], old_scores: list[float]) -> GateResult:  # fmt: skip
    """Adopt the new bank version only when it strictly beats the old on the held-out set."""
    n = min(len(new_scores), len(old_scores))
    if n == 0:
        return GateResult(member_id=member_id, bank_version=new_version,
                          previous_version=old_version, questions=0, accepted=False,
                          reason="no held-out judged queries to compare on")  # fmt: skip
    new, old = sum(new_scores[:n]) / n, sum(old_scores[:n]) / n
    accepted = new > old
    verdict = "beats" if accepted else "does not beat"
    return GateResult(member_id=member_id, bank_version=new_version, previous_version=old_version,
                      new_score=new, old_score=old, questions=n, accepted=accepted,
                      reason=f"v{new_version} {verdict} v{old_version}: {new:.3f} vs {old:.3f} "
                             f"on {n} held-out queries")  # fmt: skip


def to_chat_jsonl_record(e: Exemplar) -> dict[str, object]:
    """One OpenAI fine-tuning line: the question and the winning answer."""
    return {"messages": [{"role": "user", "content": e.question},
                         {"role": "assistant", "content": e.answer}],
            "metadata": {"tenant": e.tenant, "domain": e.domain, "source": e.source,
                         "score": e.score, "reasoning": e.reasoning,
                         "exemplar_id": e.exemplar_id}}  # fmt: skip
