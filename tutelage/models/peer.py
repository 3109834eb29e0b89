"""Peer review's data: a panel of two cheap members, and one check of their agreement."""

from __future__ import annotations

from pydantic import BaseModel


class PeerPanel(BaseModel):
    """Two cheap members whose agreement is trusted in a domain, with the figures behind it."""

    members: list[str]
    # Lower confidence bound of how often their agreed answer was judged right.
    reliability: float
    agree_rate: float  # how often the two agree
    judged: int = 0  # agreed answers that were judged (the reliability's sample)
    # Expected cost of a query on this panel relative to the supervisor's answer (1.0): both
    # members, plus the supervisor when they disagree.
    expected_cost: float = 0.0
    reason: str = ""


class PeerCheck(BaseModel):
    """Whether two members' answers to one query agreed (label-free: no judge involved)."""

    member_a: str
    member_b: str
    agreed: bool
