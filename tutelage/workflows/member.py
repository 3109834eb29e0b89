"""MemberWorkflow: one member's life (id `member-<id>`), a durable state machine.

Its roles per domain change only through validated Updates (promote, demote, retire, activate
via `transition`; `adopt_exemplars` for distillation). A refused move is rejected by the
validator with the reason, before anything is written to history. Each accepted move writes
the roster read model through an activity, so it shows in the UI as an activity of this run;
continue-as-new keeps the history bounded.
"""

from __future__ import annotations

import asyncio

from temporalio import workflow
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from .. import options
    from ..activities import names
    from ..models.lifecycle import (
        AdoptExemplars,
        MemberState,
        MemberWorkflowInput,
        RosterWrite,
        RosterWriteResult,
        Transition,
        TransitionRequest,
    )
    from ..policy.lifecycle import IllegalTransition, check_transition, transition


@workflow.defn(name="MemberWorkflow")
class MemberWorkflow:
    @workflow.init
    def __init__(self, inp: MemberWorkflowInput) -> None:
        # Set before any handler runs: an Update may arrive in the very first workflow task.
        self._state: MemberState | None = inp.state
        self._supervisor = inp.supervisor
        self._moves_this_run = 0
        self._lock = asyncio.Lock()

    @workflow.run
    async def run(self, inp: MemberWorkflowInput) -> MemberState:
        if not inp.registered:
            await self._write(RosterWrite(state=inp.state))
        await workflow.wait_condition(
            lambda: (
                self._moves_this_run >= options.MEMBER_MAX_TRANSITIONS_PER_RUN
                or workflow.info().is_continue_as_new_suggested()
            )
        )
        await workflow.wait_condition(workflow.all_handlers_finished)
        workflow.continue_as_new(
            MemberWorkflowInput(state=self._state, supervisor=self._supervisor, registered=True)
        )

    async def _write(self, req: RosterWrite) -> None:
        await workflow.execute_activity(
            names.WRITE_ROSTER, req, result_type=RosterWriteResult,
            start_to_close_timeout=options.ROSTER_TIMEOUT, retry_policy=options.STORE_RETRY,
            heartbeat_timeout=options.STORE_HEARTBEAT_TIMEOUT,
        )  # fmt: skip

    @workflow.query
    def state(self) -> MemberState:
        assert self._state is not None
        return self._state

    @workflow.update(name="transition")
    async def transition(self, req: TransitionRequest) -> Transition:
        async with self._lock:
            assert self._state is not None
            # Checked again here: another update may have moved the member since validation
            # (two validated in one activation); refused, it fails that update, not the run.
            try:
                new_state, record = transition(self._state, req, self._supervisor,
                                               workflow.now().isoformat())  # fmt: skip
            except IllegalTransition as exc:
                raise ApplicationError(str(exc), type="IllegalTransition",
                                       non_retryable=True) from None  # fmt: skip
            await self._write(RosterWrite(state=new_state, transition=record))
            self._state = new_state
            self._moves_this_run += 1
            return record

    @transition.validator
    def _check(self, req: TransitionRequest) -> None:
        if self._state is None:
            raise ValueError("the member is still starting; try again")
        check_transition(self._state, req.action, req.domain, self._supervisor)

    @workflow.update(name="adopt_exemplars")
    async def adopt_exemplars(self, req: AdoptExemplars) -> MemberState:
        async with self._lock:
            assert self._state is not None
            new_state = self._state.model_copy(update={"exemplar_version": req.version})
            await self._write(RosterWrite(state=new_state))
            self._state = new_state
            self._moves_this_run += 1
            return new_state

    @adopt_exemplars.validator
    def _check_adopt(self, req: AdoptExemplars) -> None:
        if self._state is None:
            raise ValueError("the member is still starting; try again")
        if req.version < 0:
            raise ValueError("an exemplar bank version is 0 or more")
