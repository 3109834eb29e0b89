"""Users' feedback on a chat completion: the FeedbackWorkflow's input and result."""

from __future__ import annotations

from pydantic import BaseModel, Field


class FeedbackRequest(BaseModel):
    """One rating of one served answer, as the gateway or the CLI checked it."""

    query_id: str
    # The tenant whose completion it must be (the key's); None: whichever tenant asked the
    # query (`tutelage feedback` without --tenant: the operator's command line).
    tenant: str | None = None
    score: float = Field(ge=0, le=1)
    rating: str | None = None  # "up" | "down" when the rating was sent that way
    comment: str = ""
    correction: str = ""  # a better answer: a gold exemplar at the next distillation
    source: str = "api"  # api | cli
    # Unique per rating (the FeedbackWorkflow's id when empty): a retried write lands once.
    feedback_id: str = ""


class FeedbackResult(BaseModel):
    found: bool = False  # the completion exists (for that tenant)
    feedback_id: str = ""
    query_id: str = ""
    tenant: str = ""
    revision: int = 0  # this rating's place in the query's history (1 = its first)
    served: str | None = None  # the member whose answer was served (None: the query failed)
    # The user verdicts that now stand on the query, by member (the served one's and what the
    # rating says about the others that answered: policy/feedback.py).
    verdicts: dict[str, float] = Field(default_factory=dict)
    correction_kept: bool = False
    # Why the rating was not recorded though the completion exists (its history is full).
    refused: str = ""
