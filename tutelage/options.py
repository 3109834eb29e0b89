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
RECORD_TIMEOUT = timedelta(seconds=60)
JUDGE_TIMEOUT = timedelta(seconds=180)
# Slack above a member's own timeout so Temporal's limit never fires before litellm's.
ANSWER_TIMEOUT_SLACK = timedelta(seconds=5)


def answer_timeout(member_timeout_s: float) -> timedelta:
    return timedelta(seconds=member_timeout_s) + ANSWER_TIMEOUT_SLACK


def query_workflow_id(tenant: str, query_id: str) -> str:
    """Readable, unique per query: `query-<tenant>-<id>`."""
    return f"query-{tenant}-{query_id}"
