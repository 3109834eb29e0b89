"""Task queues, timeouts and retry policies: the one place they are defined."""

from __future__ import annotations

from datetime import timedelta

from temporalio.common import RetryPolicy

DEFAULT_TASK_QUEUE = "tutelage"

# Errors an activity raises that retrying cannot fix (a wrong key, a bad request, an unknown
# model, a prompt with no recording). Activities raise ApplicationError with one of these types.
NON_RETRYABLE_ERRORS = [
    "AuthenticationError",
    "BadRequestError",
    "NotFoundError",
    "PermissionDeniedError",
    "ContentPolicyViolationError",
    "ConfigurationError",
    "NoRecordingError",
    "LocalModelError",
    "ContextOverflowError",
    "EmptyGenerationError",
]

# Model calls: Temporal owns every retry (litellm's own retries are off inside activities).
MODEL_CALL_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(seconds=30),
    maximum_attempts=4,
    non_retryable_error_types=NON_RETRYABLE_ERRORS,
)

# Store reads and writes on the worker's own disk: quick to retry, and they must eventually land.
STORE_RETRY = RetryPolicy(
    initial_interval=timedelta(milliseconds=200),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(seconds=10),
    maximum_attempts=20,
    non_retryable_error_types=["ConfigurationError"],
)

RECALL_TIMEOUT = timedelta(seconds=30)
# Settling a query's usage in the shared counters (Redis): one round trip, retried a while.
SETTLE_TIMEOUT = timedelta(seconds=10)
SETTLE_RETRY = RetryPolicy(
    initial_interval=timedelta(milliseconds=500),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(seconds=30),
    maximum_attempts=10,
    non_retryable_error_types=["ConfigurationError"],
)
RECORD_TIMEOUT = timedelta(seconds=60)
JUDGE_TIMEOUT = timedelta(seconds=180)
# Slack above a member's own timeout so Temporal's limit never fires before litellm's.
ANSWER_TIMEOUT_SLACK = timedelta(seconds=5)


def answer_timeout(member_timeout_s: float) -> timedelta:
    return timedelta(seconds=member_timeout_s) + ANSWER_TIMEOUT_SLACK


def query_workflow_id(tenant: str, query_id: str, task_queue: str = "tutelage") -> str:
    """Readable, unique per query: `query-<tenant>-<id>` in the default school, and
    `query-<task queue>-<tenant>-<id>` in any other, so two schools on one cluster never share
    a run (the same tenant and query id in both included)."""
    scope = school_scope(task_queue)
    return f"query-{scope}-{tenant}-{query_id}" if scope else f"query-{tenant}-{query_id}"


# The store owner's activities heartbeat (workers/heartbeats.py): when it dies mid-step, its
# successor retries the step after this long, not after the step's timeout.
STORE_HEARTBEAT_TIMEOUT = timedelta(seconds=10)

# The learning cycles: reading the ledger, clustering and the quality gate may take a while.
ROSTER_TIMEOUT = timedelta(seconds=30)
CYCLE_STEP_TIMEOUT = timedelta(minutes=10)
CYCLE_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(seconds=30),
    maximum_attempts=5,
    non_retryable_error_types=["ConfigurationError"],
)
# Each learning cycle's workflow type, by cycle name (started by schedules and every N queries).
CYCLE_WORKFLOWS = {"promotion": "PromotionWorkflow", "evolution": "EvolutionWorkflow",
                   "distillation": "DistillationWorkflow"}  # fmt: skip
# A member's history is bounded: continue-as-new after this many transitions in one run.
MEMBER_MAX_TRANSITIONS_PER_RUN = 100


def calls_task_queue(task_queue: str) -> str:
    """The model calls' own queue (answer, judge): they take seconds and need no store, so any
    number of stateless answer workers serve it, while the store owner serves `task_queue`
    (the workflows and their store activities)."""
    return f"{task_queue}-calls"


# Model calls in flight per worker: each waits on a provider, almost no CPU of its own.
MAX_CONCURRENT_CALLS = 64


def local_task_queue(task_queue: str) -> str:
    """Local GGUF models' own queue, served by their own worker process (one slot per model),
    so they never hold up API calls and a native crash never takes the school's worker down."""
    return f"{task_queue}-local"


# A model call heartbeats while it waits: when the worker serving it dies (an answer worker
# killed, a native crash in a local model) the call is retried on another worker (or the
# restarted one) after this long, not after the member's whole timeout.
CALL_HEARTBEAT_TIMEOUT = timedelta(seconds=10)


# A streamed answer is first asked on its gateway's own queue: if that gateway is gone (no
# worker takes it within STREAM_START_TIMEOUT, or it stops heartbeating) the call goes to the
# shared model calls' queue, where it is retried as any call.
STREAM_START_TIMEOUT = timedelta(seconds=5)
STREAM_HEARTBEAT_TIMEOUT = timedelta(seconds=5)
STREAM_RETRY = RetryPolicy(maximum_attempts=1)


def local_answer_deadline(member_timeout_s: float) -> timedelta:
    """How long a local call may wait and retry in all. With no local worker polling the queue
    (none started, or one that keeps crashing) the call fails then, and the query records it,
    instead of waiting for a worker forever."""
    attempts = MODEL_CALL_RETRY.maximum_attempts
    return answer_timeout(member_timeout_s) * attempts + timedelta(minutes=2)


def school_scope(task_queue: str) -> str:
    """What keeps two schools on one cluster apart: their task queue, unless it is the default."""
    return "" if task_queue == DEFAULT_TASK_QUEUE else task_queue


def member_workflow_id(member_id: str, task_queue: str = DEFAULT_TASK_QUEUE) -> str:
    """`member-<id>` in the default school; `member-<task queue>-<id>` in any other."""
    scope = school_scope(task_queue)
    return f"member-{scope}-{member_id}" if scope else f"member-{member_id}"


def keys_workflow_id(task_queue: str = DEFAULT_TASK_QUEUE) -> str:
    """The school's API keys: `keys` in the default school, `keys-<task queue>` in another."""
    scope = school_scope(task_queue)
    return f"keys-{scope}" if scope else "keys"
