"""The member ladder: which moves are legal, and where each one lands."""

from __future__ import annotations

from ..models.lifecycle import Action, MemberState, Transition, TransitionRequest
from ..models.roster import ALL_DOMAINS, Role

_LADDER = [Role.PROBATION, Role.STUDENT, Role.TA, Role.TEACHER]


class IllegalTransition(ValueError):
    """A move the ladder does not allow, phrased for the user."""


def next_role(current: Role, action: Action) -> Role:
    """The role after `action`, or IllegalTransition saying why not."""
    if action == Action.RETIRE:
        if current == Role.RETIRED:
            raise IllegalTransition("already retired")
        return Role.RETIRED
    if action == Action.ACTIVATE:
        if current not in (Role.PROBATION, Role.RETIRED):
            raise IllegalTransition(f"only a member in probation or retired can be activated, "
                                    f"not a {current.value}")  # fmt: skip
        return Role.STUDENT
    if current == Role.RETIRED:
        raise IllegalTransition(f"a retired member cannot be {action.value}d; activate it first")
    rung = _LADDER.index(current)
    if action == Action.PROMOTE:
        if current == Role.PROBATION:
            raise IllegalTransition("a member in probation is activated, not promoted")
        if rung == len(_LADDER) - 1:
            raise IllegalTransition("a teacher cannot be promoted further")
        return _LADDER[rung + 1]
    if rung == 0:
        raise IllegalTransition("a member in probation cannot be demoted; retire it instead")
    return _LADDER[rung - 1]


def check_transition(state: MemberState, action: Action, domain: str, supervisor: bool) -> Role:
    """Validate a transition request against a member's state; returns the role it lands on."""
    if supervisor and action in (Action.RETIRE, Action.DEMOTE):
        raise IllegalTransition(f"{state.spec.id} is the supervisor; it cannot be {action.value}d")
    retired = state.role_in(ALL_DOMAINS) == Role.RETIRED
    if domain != ALL_DOMAINS and retired and action != Action.ACTIVATE:
        raise IllegalTransition(f"{state.spec.id} is retired in every domain")
    return next_role(state.role_in(domain), action)


def apply_role(state: MemberState, domain: str, role: Role) -> MemberState:
    """The state after `domain` moves to `role`.

    Retiring or re-activating across all domains starts the member's domain roles afresh.
    """
    if domain == ALL_DOMAINS and (
        role == Role.RETIRED or state.role_in(ALL_DOMAINS) == Role.RETIRED
    ):
        return state.model_copy(update={"roles": {ALL_DOMAINS: role}})
    return state.model_copy(update={"roles": {**state.roles, domain: role}})


def transition(
    state: MemberState, request: TransitionRequest, supervisor: bool, at: str
) -> tuple[MemberState, Transition]:
    """Apply a validated request: the new state and the transition record."""
    before = state.role_in(request.domain)
    after = check_transition(state, request.action, request.domain, supervisor)
    moved = apply_role(state, request.domain, after)
    record = Transition(member_id=state.spec.id, domain=request.domain, action=request.action,
                        from_role=before, to_role=after, reason=request.reason, by=request.by,
                        at=at)  # fmt: skip
    moved = moved.model_copy(update={"transitions": state.transitions + 1, "last": record})
    return moved, record
