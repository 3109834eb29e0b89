"""`tutelage keys create|list|revoke`: the gateway's API keys, kept by the school's
KeysWorkflow (only their hashes); a new key is printed once."""

from __future__ import annotations

import asyncio
import json
import secrets
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table
from temporalio.client import (
    Client,
    WithStartWorkflowOperation,
    WorkflowFailureError,
    WorkflowUpdateFailedError,
)
from temporalio.common import WorkflowIDConflictPolicy
from temporalio.service import RPCError, RPCStatusCode

from ..config import load_config
from ..models.keys import ApiKey, KeysInput, KeySpend, KeySpendRequest, RevokeKey
from ..options import keys_workflow_id
from ..policy.keys import compose_key, key_hash, needs_charges
from .common import UserError, check_tenant, run_with_client

out = Console()


def create_key(config_path: Path | None, tenant: str, name: str, budget_day: float | None,
               budget_month: float | None, rpm: int | None, tpm: int | None,
               admin: bool = False) -> None:  # fmt: skip
    cfg = load_config(config_path)
    check_tenant(cfg, tenant)
    key_id, secret = secrets.token_hex(6), secrets.token_urlsafe(24)
    presented = compose_key(key_id, secret)
    limits = {"budget_day_usd": budget_day, "budget_month_usd": budget_month,
              "requests_per_minute": rpm, "tokens_per_minute": tpm}  # fmt: skip
    flags = {"budget_day_usd": "--budget-day", "budget_month_usd": "--budget-month",
             "requests_per_minute": "--rpm", "tokens_per_minute": "--tpm"}  # fmt: skip
    for field, value in limits.items():
        if value is not None and value <= 0:
            raise UserError(f"{flags[field]} must be greater than 0 (got {value:g}); leave it "
                            "out for no limit")  # fmt: skip
    record = ApiKey(key_id=key_id, tenant=tenant, sha256=key_hash(presented), name=name,
                    admin=admin, **limits)  # fmt: skip
    tq = cfg.temporal.task_queue

    async def go(client: Client) -> ApiKey:
        start: WithStartWorkflowOperation[Any, Any] = WithStartWorkflowOperation(
            "KeysWorkflow", KeysInput(), id=keys_workflow_id(tq), task_queue=tq,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        )  # fmt: skip
        return await client.execute_update_with_start_workflow(
            "create", record, start_workflow_operation=start, result_type=ApiKey)  # fmt: skip

    made = run_with_client(cfg, go)
    out.print(f"key {made.key_id} for tenant {made.tenant} (shown once; keep it secret):")
    print(presented)


def _keys(cfg_path: Path | None) -> tuple[list[ApiKey], KeySpend]:
    """The keys (from the KeysWorkflow) and what each spent this UTC day and month (from the
    ledger, through a KeySpendWorkflow: the durable record of every charged query)."""
    cfg = load_config(cfg_path)
    now = datetime.now(UTC)
    period = KeySpendRequest(day=now.date().isoformat(), month=now.strftime("%Y-%m"))

    async def go(client: Client) -> tuple[list[ApiKey], KeySpend]:
        handle = client.get_workflow_handle(keys_workflow_id(cfg.temporal.task_queue))
        try:
            keys = await handle.query("keys", result_type=list[ApiKey])
        except RPCError as exc:
            if exc.status == RPCStatusCode.NOT_FOUND:
                return [], KeySpend()
            raise UserError(f"cannot read the keys: {exc}") from None
        if not any(needs_charges(k) for k in keys):
            return keys, KeySpend()
        try:
            spend = await asyncio.wait_for(client.execute_workflow(
                "KeySpendWorkflow", period, id=f"key-spend-{uuid.uuid4().hex[:10]}",
                task_queue=cfg.temporal.task_queue, result_type=KeySpend), 30)  # fmt: skip
        except (TimeoutError, RPCError, WorkflowFailureError) as exc:
            raise UserError(f"cannot read what the keys spent (is the school's worker "
                            f"running?): {exc or 'timeout'}") from None  # fmt: skip
        return keys, spend

    return run_with_client(cfg, go)


def _spent(spend: KeySpend, key: ApiKey) -> str:
    if not needs_charges(key):
        return "-"
    return f"${spend.day_usd.get(key.key_id, 0.0):.6f} / ${spend.month_usd.get(key.key_id, 0.0):.6f}"


def list_keys(config_path: Path | None, tenant: str | None, as_json: bool = False) -> None:
    keys, spend = _keys(config_path)
    keys = [k for k in keys if tenant is None or k.tenant == tenant]
    if as_json:  # the hashes stay in the school: an id, a tenant and limits are enough here
        print(json.dumps([{**k.model_dump(exclude={"sha256"}), "usage": {
            "day": spend.day, "day_usd": spend.day_usd.get(k.key_id, 0.0),
            "month": spend.month, "month_usd": spend.month_usd.get(k.key_id, 0.0),
        } if needs_charges(k) else None} for k in keys], indent=2))  # fmt: skip
        return
    if not keys:
        out.print("no keys" + (f" for tenant {tenant}" if tenant else "") +
                  " (create one with `tutelage keys create --tenant T`)")  # fmt: skip
        return
    table = Table(show_edge=False, pad_edge=False)
    for col in ("key", "tenant", "name", "created", "state", "limits", "spent day / month"):
        table.add_column(col, overflow="fold")
    for k in keys:
        limits = ", ".join(f"{label} {value:g}" for label, value in (
            ("$/day", k.budget_day_usd), ("$/month", k.budget_month_usd),
            ("req/min", k.requests_per_minute), ("tok/min", k.tokens_per_minute))
            if value is not None) or "-"  # fmt: skip
        state = f"revoked {k.revoked_at[:10]}" if k.revoked_at else "active"
        state += ", admin" if k.admin else ""
        table.add_row(k.key_id, k.tenant, escape(k.name) or "-", k.created_at[:10], state, limits,
                      _spent(spend, k))  # fmt: skip
    out.print(table)


def revoke_key(config_path: Path | None, key_id: str) -> None:
    cfg = load_config(config_path)

    async def go(client: Client) -> ApiKey:
        handle = client.get_workflow_handle(keys_workflow_id(cfg.temporal.task_queue))
        try:
            return await handle.execute_update("revoke", RevokeKey(key_id=key_id),
                                               result_type=ApiKey)  # fmt: skip
        except WorkflowUpdateFailedError as exc:
            raise UserError(f"cannot revoke {key_id}: {exc.cause or exc}") from None
        except RPCError as exc:
            raise UserError(f"cannot revoke {key_id}: no such key ({exc})") from None

    done = run_with_client(cfg, go)
    out.print(f"revoked key {done.key_id} of tenant {done.tenant} at {done.revoked_at}")
