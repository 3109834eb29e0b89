"""Peer review: two cheap members answer; when they agree, their answer stands.

Whether a domain is reviewed by peers is decided from measured figures only: for each pair of
active, non-supervisor members, how often their answers agreed, and how often an agreed answer
was then judged right (by the reference, or by agreeing with the supervisor on the queries it
answered too). A pair qualifies when that reliability's lower confidence bound clears the bar
and its expected cost (both members, plus the supervisor on every disagreement) is below the
supervisor's own.
"""

from __future__ import annotations

from itertools import combinations

from ..models import JudgeMode, MemberAnswer, PeerCheck, PeerPanel, PeerReviewSettings, Verdict
from ..models.lifecycle import MemberState, PairStats
from ..models.roster import ALL_DOMAINS, Role
from .answers import agreement_score
from .promotion import wilson_lower
from .scoring import programmatic_verdicts

_NOT_ON_PANELS = (Role.PROBATION, Role.RETIRED)
# Marks a verdict that exists only because a panel disagreed: judged on the queries the panel
# found hard, it would bias a member's record, so the ledger's statistics leave it out.
ESCALATED = " (escalated)"


def answers_agree(a: str, b: str, pass_score: float) -> bool:
    """Label-free: two answers agree when each, taken as the other's reference, passes."""
    return min(agreement_score(a, b), agreement_score(b, a)) >= pass_score


def pair_checks(calls: list[MemberAnswer], supervisor: str, pass_score: float) -> list[PeerCheck]:
    """Every two non-supervisor members that answered this query: did they agree?"""
    answered = sorted((c for c in calls if c.ok and c.kind != "judge" and c.member_id != supervisor),
                      key=lambda c: c.member_id)  # fmt: skip
    return [PeerCheck(member_a=a.member_id, member_b=b.member_id,
                      agreed=answers_agree(a.text or "", b.text or "", pass_score))
            for a, b in combinations(answered, 2)]  # fmt: skip


def panel_agrees(calls: list[MemberAnswer], panel: list[str], pass_score: float) -> bool:
    """Whether every panel member answered and all their answers agree."""
    texts = {c.member_id: c.text or "" for c in calls if c.ok and c.kind == "answer"}
    if any(m not in texts for m in panel):
        return False
    return all(answers_agree(texts[a], texts[b], pass_score) for a, b in combinations(panel, 2))


def panel_passes(calls: list[MemberAnswer], panel: list[str], reference: str | None,
                 mode: JudgeMode, pass_score: float) -> bool | None:  # fmt: skip
    """Whether a panel answer passes the reference answer (None: the query has none)."""
    if reference is None:
        return None
    answers = [c for c in calls if c.member_id in panel and c.kind == "answer"]
    scores = programmatic_verdicts(answers, reference, mode, "") or []
    return any((v.score or 0.0) >= pass_score for v in scores)


def escalation(agreed: bool, audit: bool, passed: bool | None,
               mode: JudgeMode) -> tuple[str, bool]:  # fmt: skip
    """What the supervisor does after a panel answered: ("", "answer" or "judge"), and whether
    that was because of the panel's answers (True), not a draw made beforehand (an audit).

    An agreed answer stands, except on an audit. On a disagreement the supervisor answers
    under agreement judging (its answer is the judgement) and judges under LLM judging. With a
    reference answer (`passed`: whether a panel answer passed it) the reference judges: the
    supervisor answers only when no panel answer passed, or on an audit.
    """
    if passed is not None:
        if audit:
            return "answer", False
        return ("", False) if passed else ("answer", True)
    if agreed and not audit:
        return "", False
    return ("answer" if mode == JudgeMode.AGREEMENT else "judge"), not agreed


def mark_escalated(verdicts: list[Verdict], panel: list[str], has_reference: bool) -> list[Verdict]:
    """After a panel disagreed: the verdicts that exist only because of it, marked. With a
    reference every panel answer is judged anyway, so only the supervisor's verdict is; under
    agreement or LLM judging, every verdict is."""
    return [v if has_reference and v.member_id in panel
            else v.model_copy(update={"judge": v.judge + ESCALATED}) for v in verdicts]  # fmt: skip


def pair_cost(pair: PairStats, costs: dict[str, float]) -> float:
    """A pair's expected cost per query, relative to the supervisor's: both members, plus the
    supervisor on every disagreement (a member of unknown price counts as the supervisor)."""
    agree_rate = pair.agreed / pair.together if pair.together > 0 else 0.0
    return costs.get(pair.member_a, 1.0) + costs.get(pair.member_b, 1.0) + (1.0 - agree_rate)


def plan_peer_review(
    pairs: list[PairStats],
    roster: list[MemberState],
    supervisor: str,
    costs: dict[str, float],
    settings: PeerReviewSettings,
    z: float = 1.0,
) -> dict[str, PeerPanel]:
    """Per domain, the cheapest qualifying pair (see the module docstring); none where none
    qualifies."""
    if not settings.enabled:
        return {}
    states = {m.spec.id: m for m in roster}
    best: dict[str, tuple[tuple[float, float, str, str], PeerPanel]] = {}
    for p in pairs:
        a, b = states.get(p.member_a), states.get(p.member_b)
        if a is None or b is None or supervisor in (p.member_a, p.member_b):
            continue
        if any(s.role_in(p.domain) in _NOT_ON_PANELS or s.role_in(ALL_DOMAINS) == Role.RETIRED
               for s in (a, b)):  # fmt: skip
            continue
        if p.agreed_judged < settings.min_agreed or p.together <= 0:
            continue
        reliability = wilson_lower(p.agreed_right, p.agreed_judged, z)
        agree_rate = p.agreed / p.together
        cost = pair_cost(p, costs)
        if reliability < settings.min_reliability or cost >= 1.0:
            continue
        panel = PeerPanel(
            members=sorted([p.member_a, p.member_b], key=lambda m: (costs.get(m, 1.0), m)),
            reliability=round(reliability, 4), agree_rate=round(agree_rate, 4),
            judged=p.agreed_judged, expected_cost=round(cost, 4),
            reason=(f"agreed on {p.agreed}/{p.together}; {p.agreed_right}/{p.agreed_judged} "
                    f"agreed answers judged right (lower bound {reliability:.2f} >= "
                    f"{settings.min_reliability:.2f}); expected cost {cost:.2f} of the "
                    "supervisor's"),
        )  # fmt: skip
        key = (cost, -reliability, p.member_a, p.member_b)
        if p.domain not in best or key < best[p.domain][0]:
            best[p.domain] = (key, panel)
    return {d: panel for d, (_, panel) in sorted(best.items())}


def peer_quality(panel: PeerPanel, supervisor_quality: float) -> float:
    """The expected quality of the peer route: an agreed answer is right at the panel's
    reliability; a disagreement gets the supervisor's quality."""
    return panel.agree_rate * panel.reliability + (1.0 - panel.agree_rate) * supervisor_quality
