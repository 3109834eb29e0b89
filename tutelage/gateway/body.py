"""Request bodies read with a limit, whether or not the client sent a Content-Length.

A declared length over the limit is refused before a byte is read; a chunked body (or one
that lies about its length) is read piece by piece and refused as soon as it passes the
limit, so no request can make the gateway hold more than `limit` bytes of it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from fastapi import Request

from .errors import APIError


def too_large(size: int | None, limit: int) -> APIError:
    what = f"is {size:,} bytes" if size is not None else f"passed {limit:,} bytes"
    return APIError(413, f"The request body {what}; the limit is {limit:,} "
                    "(gateway.max_body_bytes).", "request_too_large")  # fmt: skip


def declared_length(headers: Mapping[str, str]) -> int | None:
    """The Content-Length the client sent, if any (a malformed one counts as none)."""
    raw = headers.get("content-length")
    try:
        return int(raw) if raw is not None else None
    except ValueError:
        return None


async def read_body(request: Request, limit: int) -> bytes:
    """The whole body, at most `limit` bytes; else a 413 APIError."""
    size = declared_length(request.headers)
    if size is not None and size > limit:
        raise too_large(size, limit)
    parts: list[bytes] = []
    total = 0
    async for part in request.stream():
        total += len(part)
        if total > limit:
            raise too_large(None, limit)
        parts.append(part)
    return b"".join(parts)


def json_object(raw: bytes) -> dict[str, Any]:
    """The body as a JSON object; else a 400 APIError naming what is wrong. Every way a body
    that fits the limit can fail to parse is the client's error, never a 500: bad JSON or
    UTF-8, an integer past Python's 4,300 digits (ValueError), nesting past the recursion
    limit (RecursionError)."""
    try:
        payload = json.loads(raw)
    except (ValueError, RecursionError) as exc:  # JSONDecodeError and UnicodeDecodeError too
        what = "it nests too deeply" if isinstance(exc, RecursionError) else str(exc)
        raise APIError(400, f"We could not parse the JSON body of your request: {what}",
                       "invalid_json") from None  # fmt: skip
    if not isinstance(payload, dict):
        raise APIError(400, "The request body must be a JSON object.", "invalid_request_body")
    return payload
