"""KeysWorkflow: the school's API keys, one durable record that every gateway reads.

Keys are created and revoked through validated Updates (the CLI starts the workflow with its
first key: Update-with-Start) and read through Queries; only their hashes are in history.
Nothing here is on a request's path: each gateway reads all keys into its process and
refreshes them every `gateway.key_cache_s` in the background, and requests are admitted and
charged in the usage counters (`store/counters.py`, Redis across gateways). The `admit`
Update and the `charge` Signal are what gateways and QueryWorkflows used before; they stay so
that runs which received them replay, and nothing sends them any more.
"""

from __future__ import annotations

from temporalio import workflow
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from ..models.keys import Admission, Admit, ApiKey, Charge, KeysInput, KeyUsage, RevokeKey
    from ..policy import keys as key_policy

# Continue-as-new after this many changes or history events, carrying the keys and their usage:
# a bounded history.
MAX_CHANGES_PER_RUN = 500
MAX_HISTORY_EVENTS = 10_000


@workflow.defn(name="KeysWorkflow")
class KeysWorkflow:
    @workflow.init
    def __init__(self, inp: KeysInput) -> None:
        self._keys = dict(inp.keys)
        self._usage = dict(inp.usage)
        self._changes = 0

    @workflow.run
    async def run(self, inp: KeysInput) -> None:
        # Temporal suggests continuing as new before a run's history or its Updates (2,000 a
        # run) reach their limits.
        await workflow.wait_condition(
            lambda: self._changes >= MAX_CHANGES_PER_RUN
            or workflow.info().get_current_history_length() >= MAX_HISTORY_EVENTS
            or workflow.info().is_continue_as_new_suggested()
        )
        await workflow.wait_condition(workflow.all_handlers_finished)
        workflow.continue_as_new(KeysInput(keys=self._keys, usage=self._usage))

    @workflow.update(name="create")
    def create(self, key: ApiKey) -> ApiKey:
        if key.key_id in self._keys:  # validated, but two may be validated together
            raise ApplicationError(f"key {key.key_id} exists", non_retryable=True)
        self._keys[key.key_id] = key.model_copy(update={"created_at": workflow.now().isoformat()})
        self._changes += 1
        return self._keys[key.key_id]

    @create.validator
    def _check_create(self, key: ApiKey) -> None:
        if key.key_id in self._keys:
            raise ValueError(f"key {key.key_id} exists")

    @workflow.update(name="revoke")
    def revoke(self, req: RevokeKey) -> ApiKey:
        key = self._keys.get(req.key_id)
        if key is None:
            raise ApplicationError(f"no key {req.key_id}", non_retryable=True)
        if key.revoked_at is None:
            key = key.model_copy(update={"revoked_at": workflow.now().isoformat()})
            self._keys[req.key_id] = key
            self._changes += 1
        return key

    @revoke.validator
    def _check_revoke(self, req: RevokeKey) -> None:
        if req.key_id not in self._keys:
            raise ValueError(f"no key {req.key_id}")

    @workflow.update(name="admit")
    def admit(self, req: Admit) -> Admission:
        """Count one request of a key against its limits (budgets, tokens and requests per
        minute); every gateway asks here, so the limits hold across gateways."""
        key = self._keys.get(req.key_id)
        if key is None or not key_policy.has_limits(key):
            return Admission(allowed=True)
        admission, self._usage[key.key_id] = key_policy.admit(
            key, self._usage.get(key.key_id, KeyUsage()), workflow.now())  # fmt: skip
        return admission

    @workflow.signal(name="charge")
    def charge(self, req: Charge) -> None:
        if req.key_id in self._keys:
            self._usage[req.key_id] = key_policy.charge(
                self._usage.get(req.key_id, KeyUsage()), req.cost_usd, req.tokens, workflow.now())

    @workflow.query(name="usage")
    def usage(self) -> dict[str, KeyUsage]:
        return dict(self._usage)

    @workflow.query(name="keys")
    def keys(self) -> list[ApiKey]:
        return list(self._keys.values())

    @workflow.query(name="key")
    def key(self, key_id: str) -> ApiKey | None:
        return self._keys.get(key_id)
