"""The gateway's routes: OpenAI's chat completions and models, health.

Each chat completion is one QueryWorkflow. The request is checked before anything starts (a
bad one is a 4xx OpenAI error and starts no workflow); once started, the run goes on even if
the client leaves or the request's deadline passes, and is recorded as every query is.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from pydantic import ValidationError
from temporalio.client import Client, WorkflowFailureError, WorkflowHandle
from temporalio.service import RPCError

from ..client import start_query
from ..config import TutelageConfig
from ..models import QueryInput, QueryResult
from ..models.keys import ApiKey
from ..policy.answers import answer_usage, failure_hint
from ..policy.keys import bearer, has_limits, needs_charges
from ..policy.presets import PRESETS
from ..policy.savings import saved_usd
from ..policy.validation import query_size
from ..providers.catalog import ConfigCatalog
from . import errors
from .admission import Admissions
from .body import json_object, read_body
from .dashboard import install_dashboard
from .errors import APIError
from .feedback import install_feedback
from .metrics import Metrics
from .middleware import GatewayMiddleware
from .requests import query_input
from .schema import ChatCompletionRequest
from .streaming import LiveStream
from .streams import Event, StreamHub
from .temporal import RETRY_SOON, KeyCache, TemporalSource

log = logging.getLogger("tutelage.gateway")
# How long starting a query may wait on Temporal before the request is a 503 (not a hang).
START_RPC_TIMEOUT_S = 5.0
# How often a waiting request checks that its client is still there.
DISCONNECT_POLL_S = 1.0


def _completion(result: QueryResult, cfg: TutelageConfig, catalog: ConfigCatalog,
                created: int) -> dict[str, Any]:  # fmt: skip
    spec = catalog.spec(result.winner) if result.winner else None
    prompt, completion = answer_usage(result)
    calls = [c.to_openai() for c in result.tool_calls]
    saved = saved_usd(result.supervisor_only_cost_usd, result.cost_usd)
    return {
        "id": f"chatcmpl-{result.query_id}",
        "object": "chat.completion",
        "created": created,
        "model": spec.model if spec else (result.winner or "tutelage"),
        "choices": [{"index": 0, "finish_reason": "tool_calls" if calls else "stop",
                     "logprobs": None, "message": {
                         "role": "assistant", "content": None if calls else (result.answer or ""),
                         **({"tool_calls": calls} if calls else {})}}],
        "usage": {"prompt_tokens": prompt, "completion_tokens": completion,
                  "total_tokens": prompt + completion},
        "tutelage": {
            "query_id": result.query_id, "member": result.winner, "role": result.winner_role,
            "route": result.route.value, "cache_hit": result.cache_hit, "domain": result.domain,
            "scores": result.scores, "reason": result.reason,
            "cost_usd": result.cost_usd, "supervisor_only_cost_usd":
            result.supervisor_only_cost_usd, "saved_usd": saved,
            "members_asked": result.members_asked, "latency_ms": result.latency_ms,
            "run_url": cfg.temporal.run_url(result.workflow_id),
        },
    }  # fmt: skip


def _headers(body: dict[str, Any], request_id: str) -> dict[str, str]:
    t = body["tutelage"]
    return {"x-tutelage-member": str(t["member"]), "x-tutelage-route": t["route"],
            "x-tutelage-cost-usd": f"{t['cost_usd']:.8f}",
            "x-tutelage-saved-usd": f"{t['saved_usd']:.8f}", "x-request-id": request_id,
            "x-tutelage-query-id": str(t["query_id"])}  # fmt: skip


class ClientGone(Exception):
    """The client closed its connection before the answer was ready."""


def create_app(config: TutelageConfig, temporal: TemporalSource) -> FastAPI:
    app = FastAPI(title="tutelage", docs_url=None, redoc_url=None, openapi_url=None)
    errors.install(app)
    catalog = ConfigCatalog(config)
    gw = config.gateway
    keys = KeyCache(temporal, config.temporal.task_queue, gw.key_cache_s)
    admissions = Admissions(config, temporal, catalog)
    app.state.admissions = admissions
    streams = StreamHub(config, temporal)
    app.state.streams = streams
    metrics = Metrics()

    async def caller(request: Request) -> ApiKey | None:
        """The request's key (None when the gateway takes no keys); a bad one is a 401."""
        if gw.auth == "none":
            return None
        presented = bearer(request.headers.get("authorization"))
        if presented is None:
            raise APIError(401, "You didn't provide an API key. Provide it in an Authorization "
                           "header using Bearer auth (Authorization: Bearer YOUR_KEY); "
                           "`tutelage keys create --tenant T` makes one.", "missing_api_key")  # fmt: skip
        record, problem = await keys.authenticate(presented)
        if problem is not None:
            raise APIError(401, problem[1], problem[0])
        assert record is not None
        return record

    async def admit(record: ApiKey, q: QueryInput, max_tokens: int | None) -> None:
        """Count the request against its key's limits in the usage counters: a 429 when over."""
        admission = await admissions.admit(record, q.query_id, query_size(q), max_tokens)
        if admission.allowed:
            return
        metrics.inc("tutelage_rate_limited_total", tenant=record.tenant, code=admission.code)
        # The openai SDK retries a 429 unless told not to: a spent budget stays spent.
        headers = ({"retry-after": f"{admission.retry_after_s:.0f}"}
                   if admission.retryable else {"x-should-retry": "false"})  # fmt: skip
        raise APIError(429, admission.reason, admission.code, headers=headers,
                       type_="rate_limit_error" if admission.retryable
                       else "insufficient_quota")  # fmt: skip

    install_dashboard(app, config, temporal, keys)
    install_feedback(app, config, temporal, keys)
    paths = {"/v1/chat/completions", "/v1/feedback", "/v1/models", "/metrics", "/health/liveness",
             "/health/readiness", "/dashboard", "/dashboard/sign-out"}  # fmt: skip

    app.add_middleware(GatewayMiddleware, metrics=metrics, max_body_bytes=gw.max_body_bytes,
                       paths=frozenset(paths))  # fmt: skip

    @app.get("/v1/models")
    async def models() -> dict[str, Any]:
        names = [*PRESETS, f"tutelage@{config.routing.cost_weight:g}"]
        return {"object": "list", "data": [{"id": n, "object": "model", "created": 0,
                                            "owned_by": "tutelage"} for n in names]}  # fmt: skip

    @app.get("/metrics")
    async def prometheus(request: Request) -> Response:
        if gw.auth == "keys" and gw.metrics_auth == "admin":
            presented = bearer(request.headers.get("authorization"))
            if presented is None:
                raise APIError(401, "/metrics needs an admin key (Authorization: Bearer KEY; "
                               "gateway.metrics_auth = \"open\" opens it).", "missing_api_key")  # fmt: skip
            _, problem = await keys.authenticate(presented, admin=True)
            if problem is not None:
                raise APIError(403 if problem[0] == "not_admin" else 401, problem[1], problem[0])
        return Response(metrics.render(), media_type="text/plain; version=0.0.4")

    def account(result: QueryResult, body: dict[str, Any]) -> None:
        t, tenant = body["tutelage"], result.tenant
        member = str(t["member"])
        metrics.inc("tutelage_completions_total", tenant=tenant, member=member, route=t["route"])
        if result.cache_hit:
            metrics.inc("tutelage_cache_hits_total", tenant=tenant)
        for kind in ("prompt_tokens", "completion_tokens"):
            metrics.inc("tutelage_tokens_total", body["usage"][kind], tenant=tenant,
                        member=member, kind=kind.removesuffix("_tokens"))  # fmt: skip
        metrics.inc("tutelage_cost_usd_total", result.cost_usd, tenant=tenant)
        metrics.inc("tutelage_supervisor_only_cost_usd_total", result.supervisor_only_cost_usd,
                    tenant=tenant)  # fmt: skip
        metrics.inc("tutelage_saved_usd", t["saved_usd"], tenant=tenant)

    @app.get("/health/liveness")
    async def liveness() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/health/readiness")
    async def readiness() -> JSONResponse:
        state = await temporal.readiness(config)
        return JSONResponse(state, status_code=200 if state["ready"] else 503)

    async def start(q: QueryInput) -> WorkflowHandle[Any, QueryResult]:
        client: Client = await temporal.client()
        try:
            return await start_query(client, config, q, rpc_timeout_s=START_RPC_TIMEOUT_S)
        except RPCError as exc:
            raise APIError(503, f"The school's Temporal server did not take the query: {exc}",
                           "temporal_unavailable", headers=RETRY_SOON) from None  # fmt: skip

    async def outcome(handle: WorkflowHandle[Any, QueryResult],
                      request: Request | None) -> QueryResult:  # fmt: skip
        """The run's result, waited for until `request_timeout_s` or until the client leaves
        (then the wait is cancelled; the run goes on and is recorded)."""
        waiting = asyncio.ensure_future(handle.result())
        try:
            async with asyncio.timeout(gw.request_timeout_s):
                while True:
                    done, _ = await asyncio.wait({waiting}, timeout=DISCONNECT_POLL_S)
                    if done:
                        return waiting.result()
                    if request is not None and await request.is_disconnected():
                        raise ClientGone
        finally:
            waiting.cancel()

    async def finish(handle: WorkflowHandle[Any, QueryResult], request: Request | None,
                     q: QueryInput) -> QueryResult:  # fmt: skip
        run_url = config.temporal.run_url(handle.id)
        try:
            result = await outcome(handle, request)
        except (TimeoutError, ClientGone, asyncio.CancelledError) as exc:
            if q.charge_key:
                admissions.settle_later(q.charge_key, q.query_id, handle)
            if not isinstance(exc, TimeoutError):
                raise
            raise APIError(504, f"The school did not answer within {gw.request_timeout_s:g}s "
                           f"(gateway.request_timeout_s); the run goes on: {run_url}",
                           "timeout") from None  # fmt: skip
        except WorkflowFailureError as exc:
            raise APIError(502, f"The school's run failed: {exc.cause or exc}. The run: {run_url}",
                           "school_failed") from None  # fmt: skip
        except RPCError as exc:
            if q.charge_key:
                admissions.settle_later(q.charge_key, q.query_id, handle)
            raise APIError(503, f"Lost the school's Temporal server while waiting: {exc}. "
                           f"The run: {run_url}", "temporal_unavailable",
                           headers=RETRY_SOON) from None  # fmt: skip
        if q.charge_key:
            await admissions.settle(q.charge_key, result)
        if result.status != "ok":
            hint = failure_hint(result.calls)
            failures = "; ".join(dict.fromkeys(c.error for c in result.calls if c.error))
            what = hint or f"{result.error or result.reason}{f' ({failures})' if failures else ''}"
            raise APIError(502, f"The school could not answer: {what}. The run: {run_url}",
                           "no_recording" if hint else "school_failed")  # fmt: skip
        return result

    @app.post("/v1/chat/completions")
    async def chat_completions(request: Request) -> Response:
        rid = request.state.request_id
        record = await caller(request)  # a key first, as OpenAI's API checks it
        payload = json_object(await read_body(request, gw.max_body_bytes))
        try:
            req = ChatCompletionRequest.model_validate(payload)
        except ValidationError as exc:
            from fastapi.exceptions import RequestValidationError

            raise errors.validation_error(RequestValidationError(exc.errors())) from None
        q = query_input(req, config, record.tenant if record else "default")
        if req.metadata:
            log.info("request %s: metadata %s", rid, req.metadata)
        if record is not None and has_limits(record):
            await admit(record, q, req.max_completion_tokens or req.max_tokens)
            if needs_charges(record):
                q = q.model_copy(update={"charge_key": record.key_id,
                                         "usage_settlement": admissions.settlement})  # fmt: skip
        created = int(time.time())
        channel = None
        if req.stream and streams.ready and not q.shape.structured:
            channel = streams.open(q.query_id)
            q = q.model_copy(update={"stream_to": streams.task_queue})
        try:
            handle = await start(q)
        except BaseException:
            streams.close(q.query_id)
            if record is not None:
                await admissions.release(record.key_id, q.query_id)
            raise
        log.info("request %s: query %s started (%s)", rid, q.query_id, handle.id)
        if not req.stream:
            try:
                result = await finish(handle, request, q)
            except ClientGone:
                log.info("request %s: the client left; query %s goes on", rid, q.query_id)
                return Response(status_code=499)
            body = _completion(result, config, catalog, created)
            account(result, body)
            log.info("request %s: query %s answered by %s (%s)", rid, q.query_id,
                     result.winner, result.route.value)  # fmt: skip
            return JSONResponse(body, headers=_headers(body, rid))
        return StreamingResponse(_events(handle, q, created, rid, channel),
                                 media_type="text/event-stream",
                                 headers={"x-request-id": rid, "cache-control": "no-cache",
                                          "x-tutelage-query-id": q.query_id})  # fmt: skip

    async def _events(handle: WorkflowHandle[Any, QueryResult], q: QueryInput, created: int,
                      rid: str, channel: asyncio.Queue[Event] | None) -> AsyncIterator[str]:  # fmt: skip
        """The answer as SSE: a member answering alone streams its tokens as it generates
        them (through this gateway's stream worker); otherwise keep-alives while the school
        decides, then the winner's answer. Starlette cancels this generator when the client
        leaves; the wait goes with it (the run goes on)."""
        waiting = asyncio.ensure_future(finish(handle, None, q))
        live = LiveStream(created, f"chatcmpl-{q.query_id}", catalog)
        try:
            while not waiting.done():
                reading = asyncio.ensure_future(channel.get()) if channel else None
                await asyncio.wait({waiting, *([reading] if reading else [])},
                                   timeout=gw.keepalive_s, return_when=asyncio.FIRST_COMPLETED)  # fmt: skip
                if reading is not None and reading.done():
                    for chunk in live.take(reading.result()):
                        yield chunk
                    if live.broken:
                        return
                    continue
                if reading is not None:
                    reading.cancel()
                if not waiting.done() and not live.started:
                    yield ": keep-alive\n\n"  # an SSE comment: the school is still deciding
            while channel is not None and not channel.empty():  # what came before the result
                for chunk in live.take(channel.get_nowait()):
                    yield chunk
                if live.broken:
                    return
        finally:
            waiting.cancel()
            streams.close(q.query_id)
        try:
            result = waiting.result()
        except APIError as exc:
            for chunk in live.error(exc.body()):
                yield chunk
            return
        body = _completion(result, config, catalog, created)
        account(result, body)
        log.info("request %s: query %s answered by %s (%s, %s)", rid, q.query_id, result.winner,
                 result.route.value, "token-streamed" if live.started else "streamed")  # fmt: skip
        for chunk in live.finish(body):
            yield chunk

    return app
