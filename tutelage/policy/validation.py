"""Whether a query may enter the school at all."""

from __future__ import annotations

from ..models import Limits, QueryInput


def query_size(query: QueryInput) -> int:
    """Characters the members read: the question, the conversation before and after it, and
    the shape it asks for (a schema, tools)."""
    turns = [*query.context, *query.followup]
    shape = len(query.shape.model_dump_json()) if query.shape.structured else 0
    return (len(query.text) + shape + sum(len(str(m.get("content") or "")) for m in turns)
            + sum(len(str(m.get("tool_calls") or "")) for m in turns))  # fmt: skip


def too_long(query: QueryInput, limits: Limits) -> bool:
    return query_size(query) > limits.max_query_chars


def query_problem(query: QueryInput, limits: Limits) -> str | None:
    """A sentence saying what is wrong with the query, or None when it is acceptable."""
    if not query.text.strip():
        return "the query is empty"
    if too_long(query, limits):
        size = query_size(query)
        what = "query" if not (query.context or query.followup) else "conversation"
        return (
            f"the {what} has {size:,} characters; the limit is "
            f"{limits.max_query_chars:,} (limits.max_query_chars)"
        )
    if query.tenant not in limits.tenants:
        return f"unknown tenant '{query.tenant}'; configured tenants: {', '.join(limits.tenants)}"
    if query.domain is not None and limits.domains and query.domain not in limits.domains:
        return (f"unknown domain '{query.domain}'; configured domains (limits.domains): "
                f"{', '.join(limits.domains)}")  # fmt: skip
    return None
