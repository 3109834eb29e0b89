"""Connecting to Temporal and running a worker that serves the school's workflows."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Worker
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

from ..config import TutelageConfig
from ..options import MAX_CONCURRENT_CALLS, calls_task_queue
from ..workflows import search_attributes as sa
from ..workflows.distillation import DistillationWorkflow
from ..workflows.evolution import EvolutionWorkflow
from ..workflows.feedback import FeedbackWorkflow
from ..workflows.keys import KeysWorkflow
from ..workflows.member import MemberWorkflow
from ..workflows.promotion import PromotionWorkflow
from ..workflows.query import QueryWorkflow
from ..workflows.roster_report import DashboardWorkflow, KeySpendWorkflow, RosterReportWorkflow
from .heartbeats import INTERCEPTORS

log = logging.getLogger(__name__)

WORKFLOWS: Sequence[type] = (
    QueryWorkflow,
    MemberWorkflow,
    PromotionWorkflow,
    EvolutionWorkflow,
    DistillationWorkflow,
    RosterReportWorkflow,
    KeysWorkflow,
    DashboardWorkflow,
    KeySpendWorkflow,
    FeedbackWorkflow,
)


async def connect(address: str, namespace: str) -> Client:
    return await Client.connect(
        address, namespace=namespace, data_converter=pydantic_data_converter
    )


async def ensure_search_attributes(client: Client) -> None:
    """Register the run attributes on an existing cluster (the dev server gets them as flags)."""
    kinds = {"Keyword": IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD,
             "Float": IndexedValueType.INDEXED_VALUE_TYPE_DOUBLE}  # fmt: skip
    wanted = {k.name: kinds["Float" if k is sa.COST else "Keyword"] for k in sa.ALL}
    try:
        await client.operator_service.add_search_attributes(
            AddSearchAttributesRequest(search_attributes=wanted, namespace=client.namespace)
        )
    except Exception as exc:  # noqa: BLE001 - already registered, or no operator rights
        if "already" not in str(exc).lower():
            log.warning("could not register search attributes (%s); runs will lack them", exc)


# The sandbox re-imports every module a workflow file imports, per run, unless it is passed
# through. tutelage's workflow modules are deterministic and keep no module state, and
# pydantic's model machinery is costly to rebuild, so both are passed through.
_RUNNER = SandboxedWorkflowRunner(
    restrictions=SandboxRestrictions.default.with_passthrough_modules("tutelage", "pydantic")
)


def build_worker(client: Client, config: TutelageConfig, activities: list[Any]) -> Worker:
    """The store owner's worker: the workflows and the activities that touch the stores."""
    return Worker(
        client,
        task_queue=config.temporal.task_queue,
        workflows=list(WORKFLOWS),
        activities=activities,
        workflow_runner=_RUNNER,
        max_concurrent_activities=64,
        interceptors=INTERCEPTORS,
    )


def build_calls_worker(client: Client, config: TutelageConfig, calls: Any) -> Worker:
    """A worker for the model calls' queue (answer, judge): `calls` is a ModelCalls."""
    return Worker(
        client,
        task_queue=calls_task_queue(config.temporal.task_queue),
        activities=calls.all(),
        max_concurrent_activities=MAX_CONCURRENT_CALLS,
        interceptors=INTERCEPTORS,
    )


@asynccontextmanager
async def serving(
    client: Client,
    config: TutelageConfig,
    services: Any,
    local_worker: bool = True,
    model_calls: bool = True,
) -> AsyncIterator[None]:
    """Run the school's worker (the store owner), and make sure every configured member has
    its MemberWorkflow.

    With `model_calls` the same process also serves the model calls' queue (the all-in-one
    worker); without, answer workers elsewhere must (`tutelage worker --role answer`). When
    local models are configured and `local_worker` is set, their worker runs as a supervised
    child process (restarted when it dies); without, `tutelage worker --role local` must.
    """
    from ..activities.query import QueryActivities
    from .local_worker import LocalWorkerProcess, client_address

    query = QueryActivities(services)
    async with AsyncExitStack() as stack:
        await stack.enter_async_context(
            build_worker(client, config, all_activities(services, client, query))
        )
        if model_calls:
            await stack.enter_async_context(build_calls_worker(client, config, query.calls))
        if config.local_models and local_worker:
            await stack.enter_async_context(LocalWorkerProcess(config, client_address(client)))
        await ensure_members(client, config)
        yield


def all_activities(services: Any, client: Client | None, query: Any = None) -> list[Any]:
    """The query path's activities and the learning cycles', bound to one worker's stores."""
    from ..activities.feedback import FeedbackActivities
    from ..activities.lifecycle import LifecycleActivities
    from ..activities.query import QueryActivities
    from ..activities.usage import KeySpendActivities, SettleActivities

    query = query or QueryActivities(services)
    return (query.all() + LifecycleActivities(services, client, query.answer).all()
            + KeySpendActivities(services).all() + FeedbackActivities(services).all()
            + SettleActivities(services.config).all())  # fmt: skip


async def ensure_members(client: Client, config: TutelageConfig) -> None:
    """Start a MemberWorkflow for each configured member that has none running yet."""
    from ..activities.lifecycle import start_member
    from ..models.lifecycle import MemberState

    for spec in config.member_specs():
        await start_member(client, config.temporal.task_queue, MemberState(spec=spec),
                           supervisor=spec.id == config.supervisor)  # fmt: skip


async def run_worker(
    config: TutelageConfig,
    client: Client,
    stop: asyncio.Event,
    local_worker: bool = True,
    model_calls: bool = True,
) -> None:
    """Open the stores, serve until `stop` is set, then shut down cleanly."""
    from ..services import Services

    services = await asyncio.to_thread(Services.open, config)
    try:
        await ensure_search_attributes(client)
        async with serving(client, config, services, local_worker, model_calls):
            await stop.wait()
    finally:
        services.close()


async def run_answer_worker(config: TutelageConfig, client: Client, stop: asyncio.Event) -> None:
    """A stateless answer worker: the model calls' queue, from the config alone (no store)."""
    from ..activities.calls import ModelCalls
    from ..providers.catalog import ConfigCatalog
    from ..providers.registry import close_providers, register_providers

    register_providers(config.replay.data_dir, config.replay.latency_ms)
    try:
        async with build_calls_worker(client, config, ModelCalls(ConfigCatalog(config))):
            await stop.wait()
    finally:
        close_providers()
