"""The member ladder: legal moves, refused moves, per-domain roles."""

from __future__ import annotations

import pytest

from tutelage.models.lifecycle import Action, MemberSpec, MemberState, TransitionRequest
from tutelage.models.roster import Role
from tutelage.policy.lifecycle import IllegalTransition, check_transition, next_role, transition


def _state(role: Role = Role.STUDENT, **roles: Role) -> MemberState:
    return MemberState(spec=MemberSpec(id="m", model="openai/m", role=role), roles=roles)


def test_ladder_moves() -> None:
    assert next_role(Role.STUDENT, Action.PROMOTE) == Role.TA
    assert next_role(Role.TA, Action.PROMOTE) == Role.TEACHER
    assert next_role(Role.TEACHER, Action.DEMOTE) == Role.TA
    assert next_role(Role.STUDENT, Action.DEMOTE) == Role.PROBATION
    assert next_role(Role.PROBATION, Action.ACTIVATE) == Role.STUDENT
    assert next_role(Role.RETIRED, Action.ACTIVATE) == Role.STUDENT
    assert next_role(Role.TA, Action.RETIRE) == Role.RETIRED


@pytest.mark.parametrize(
    ("role", "action", "why"),
    [
        (Role.TEACHER, Action.PROMOTE, "cannot be promoted further"),
        (Role.PROBATION, Action.PROMOTE, "activated, not promoted"),
        (Role.PROBATION, Action.DEMOTE, "retire it instead"),
        (Role.RETIRED, Action.RETIRE, "already retired"),
        (Role.RETIRED, Action.PROMOTE, "activate it first"),
        (Role.STUDENT, Action.ACTIVATE, "not a student"),
    ],
)
def test_refused_moves_say_why(role: Role, action: Action, why: str) -> None:
    with pytest.raises(IllegalTransition, match=why):
        next_role(role, action)


def test_roles_are_held_per_domain() -> None:
    s = _state()
    s, t = transition(s, TransitionRequest(action=Action.PROMOTE, domain="math"), False, "t0")
    assert (t.from_role, t.to_role) == (Role.STUDENT, Role.TA)
    assert s.role_in("math") == Role.TA and s.role_in("history") == Role.STUDENT
    s, _ = transition(s, TransitionRequest(action=Action.PROMOTE, domain="math"), False, "t1")
    assert s.role_in("math") == Role.TEACHER and s.transitions == 2
    assert s.last is not None and s.last.at == "t1"


def test_retiring_everywhere_then_reactivating_starts_afresh() -> None:
    s = _state(math=Role.TEACHER)
    s, _ = transition(s, TransitionRequest(action=Action.RETIRE), False, "t0")
    assert s.role_in("math") == Role.RETIRED and s.role_in("other") == Role.RETIRED
    with pytest.raises(IllegalTransition, match="retired in every domain"):
        check_transition(s, Action.PROMOTE, "math", False)
    s, _ = transition(s, TransitionRequest(action=Action.ACTIVATE), False, "t1")
    assert s.role_in("math") == Role.STUDENT


def test_the_supervisor_cannot_be_retired_or_demoted() -> None:
    s = _state(Role.TEACHER)
    for action in (Action.RETIRE, Action.DEMOTE):
        with pytest.raises(IllegalTransition, match="supervisor"):
            check_transition(s, action, "*", True)
