"""Submitting queries to a running school through Temporal."""

from __future__ import annotations

import hashlib
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from temporalio.api.enums.v1 import TaskQueueType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest
from temporalio.client import Client, WorkflowHandle
from temporalio.common import SearchAttributePair, TypedSearchAttributes

from .config import TutelageConfig
from .models import QueryInput, QueryResult
from .options import query_workflow_id
from .workflows import search_attributes as sa
from .workflows.query import QueryWorkflow


def new_query_id(text: str) -> str:
    """Readable and unique: UTC time, then a short hash."""
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    digest = hashlib.sha256(f"{text}\x1f{uuid.uuid4()}".encode()).hexdigest()[:8]
    return f"{stamp}-{digest}"


async def start_query(
    client: Client, config: TutelageConfig, query: QueryInput, timeout_s: float | None = None,
    rpc_timeout_s: float | None = None,
) -> WorkflowHandle[Any, QueryResult]:
    """Start one QueryWorkflow. Eager start: when a worker for the school's queue runs in this
    process on the same client (`tutelage up`), the server hands it the first workflow task in
    its reply, saving a round trip; otherwise it is an ordinary start."""
    if not query.query_id:
        query = query.model_copy(update={"query_id": new_query_id(query.text)})
    return await client.start_workflow(
        QueryWorkflow.run,
        query,
        id=query_workflow_id(query.tenant, query.query_id, config.temporal.task_queue),
        task_queue=config.temporal.task_queue,
        execution_timeout=timedelta(seconds=timeout_s) if timeout_s else None,
        # Set at the start, so the UI filters running queries by tenant and the workflow needs
        # no upsert of its own (one history event and one visibility write less per query).
        search_attributes=TypedSearchAttributes([SearchAttributePair(sa.TENANT, query.tenant)]),
        request_eager_start=True,
        rpc_timeout=timedelta(seconds=rpc_timeout_s) if rpc_timeout_s else None,
    )


async def submit(
    client: Client, config: TutelageConfig, query: QueryInput, timeout_s: float | None = None
) -> QueryResult:
    """Run one QueryWorkflow and wait for its result."""
    handle = await start_query(client, config, query, timeout_s)
    return await handle.result()


async def workflow_pollers(client: Client, task_queue: str) -> int:
    """How many workers poll the school's workflow queue now (0: nobody would run a query)."""
    reply = await client.workflow_service.describe_task_queue(DescribeTaskQueueRequest(
        namespace=client.namespace, task_queue=TaskQueue(name=task_queue),
        task_queue_type=TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW))  # fmt: skip
    return len(reply.pollers)
