"""The OpenAI-compatible API, as the official `openai` client and raw HTTP see it."""

from __future__ import annotations

import json
from typing import Any

import httpx
import openai
import pytest
from temporalio.client import Client

from tutelage.workers.devserver import free_port

from .conftest import Served, start_gateway, wait_serving, write_school

QUESTION = [{"role": "user", "content": "What is six times seven?"}]


def test_the_openai_client_gets_a_chat_completion(served: Served) -> None:
    client = openai.OpenAI(base_url=served.base_url, api_key="unused", max_retries=0)
    raw = client.chat.completions.with_raw_response.create(model="tutelage", messages=QUESTION)
    r = raw.parse()
    assert r.choices[0].message.content == "42" and r.choices[0].finish_reason == "stop"
    assert r.object == "chat.completion" and r.id.startswith("chatcmpl-")
    assert r.model in ("openai/sup-model", "openai/stu-model")  # the member's model that answered
    assert r.usage is not None and r.usage.total_tokens == r.usage.prompt_tokens + r.usage.completion_tokens
    t = (r.model_extra or {})["tutelage"]
    assert t["member"] in ("sup", "stu") and t["route"] in ("novel", "hybrid", "familiar", "cache")
    assert t["run_url"].endswith(f"/workflows/query-{served.config.temporal.task_queue}-default-{t['query_id']}")
    assert raw.headers["x-tutelage-member"] == t["member"]
    assert raw.headers["x-tutelage-route"] == t["route"]
    assert float(raw.headers["x-tutelage-cost-usd"]) == pytest.approx(t["cost_usd"], abs=1e-8)
    # Saved is signed (a novel query calls every member and can cost more than the supervisor
    # alone), and the header, the body and its parts agree.
    saved = float(raw.headers["x-tutelage-saved-usd"])
    assert saved == pytest.approx(t["saved_usd"], abs=1e-8)
    assert t["saved_usd"] == pytest.approx(t["supervisor_only_cost_usd"] - t["cost_usd"])
    assert raw.headers["x-request-id"].startswith("req-")


async def test_the_async_client_and_a_conversation(served: Served) -> None:
    client = openai.AsyncOpenAI(base_url=served.base_url, api_key="unused", max_retries=0)
    r = await client.chat.completions.create(
        model="tutelage-cheap", temperature=0.2, max_tokens=16, stop=["\n"], user="u1",
        metadata={"team": "search"},
        messages=[{"role": "system", "content": "Answer with a number."},
                  {"role": "user", "content": "What is two plus two?"},
                  {"role": "assistant", "content": "4"},
                  {"role": "user", "content": "And six times seven?"}],
    )  # fmt: skip
    assert r.choices[0].message.content == "42"
    # The same last question: asked alone twice, the repeat comes from the cache; asked inside a
    # conversation, never (the cached answer was given without it).
    question = [{"role": "user", "content": "What is nine times nine?"}]
    alone = [(await client.chat.completions.create(model="tutelage", messages=question))
             .model_extra["tutelage"]["cache_hit"] for _ in range(2)]  # type: ignore[index]
    assert alone == [False, True]
    talk = await client.chat.completions.create(model="tutelage", messages=[
        {"role": "system", "content": "Answer in Roman numerals."}, *question])  # fmt: skip
    assert (talk.model_extra or {})["tutelage"]["cache_hit"] is False


def test_streaming_with_the_sync_client(served: Served) -> None:
    client = openai.OpenAI(base_url=served.base_url, api_key="unused", max_retries=0)
    chunks = list(client.chat.completions.create(model="tutelage", messages=QUESTION, stream=True,
                                                 stream_options={"include_usage": True}))  # fmt: skip
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "42"
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    last = chunks[-1]
    assert last.usage is not None and not last.choices
    assert (last.model_extra or {})["tutelage"]["cost_usd"] >= 0


async def test_streaming_with_the_async_client_sends_keep_alives(served: Served) -> None:
    client = openai.AsyncOpenAI(base_url=served.base_url, api_key="unused", max_retries=0)
    stream = await client.chat.completions.create(model="tutelage@0.5", stream=True,
                                                  messages=QUESTION)  # fmt: skip
    text = "".join([c.choices[0].delta.content or "" async for c in stream if c.choices])
    assert text == "42"
    # Raw: SSE comments keep the connection alive while the school decides; [DONE] closes.
    body = {"model": "tutelage", "stream": True,
            "messages": [{"role": "user", "content": "Name a prime number above 90."}]}
    async with httpx.AsyncClient(timeout=30) as http, \
            http.stream("POST", f"{served.base_url}/chat/completions", json=body) as r:
        lines = [line async for line in r.aiter_lines() if line]
    assert r.headers["content-type"].startswith("text/event-stream")
    assert lines[-1] == "data: [DONE]"
    assert all(line.startswith((": keep-alive", "data: ")) for line in lines)
    assert lines[0] == ": keep-alive"  # sent while the school decided (keepalive_s is 0.05)


def test_models_lists_the_presets(served: Served) -> None:
    client = openai.OpenAI(base_url=served.base_url, api_key="unused", max_retries=0)
    ids = [m.id for m in client.models.list()]
    assert {"tutelage", "tutelage-quality", "tutelage-cheap"} <= set(ids)
    assert any(i.startswith("tutelage@") for i in ids)


def test_errors_are_openai_errors_through_the_client(served: Served) -> None:
    client = openai.OpenAI(base_url=served.base_url, api_key="unused", max_retries=0)
    with pytest.raises(openai.NotFoundError) as e:
        client.chat.completions.create(model="gpt-4o", messages=QUESTION)
    assert e.value.code == "model_not_found" and "tutelage-cheap" in e.value.message
    with pytest.raises(openai.BadRequestError) as b:
        client.chat.completions.create(model="tutelage", messages=[])
    assert b.value.param == "messages"


GOOD = {"model": "tutelage", "messages": QUESTION}
LONG = "x" * 2500
# (what is wrong, body (bytes or JSON), status, code or None, param or None)
MALFORMED: list[tuple[str, Any, int, str | None, str | None]] = [
    ("empty body", b"", 400, "invalid_json", None),
    ("not JSON", b"{model: tutelage", 400, "invalid_json", None),
    ("truncated JSON", b'{"model": "tutelage", "messages": [', 400, "invalid_json", None),
    ("a JSON list", [GOOD], 400, "invalid_request_body", None),
    ("a JSON string", "hello", 400, "invalid_request_body", None),
    ("a JSON number", 42, 400, "invalid_request_body", None),
    ("null", None, 400, "invalid_request_body", None),
    ("bytes not UTF-8", b"\xff\xfe\x00", 400, "invalid_json", None),
    ("no model", {"messages": QUESTION}, 400, "missing_required_parameter", "model"),
    ("no messages", {"model": "tutelage"}, 400, "missing_required_parameter", "messages"),
    ("empty messages", {"model": "tutelage", "messages": []}, 400, "invalid_value", "messages"),
    ("messages not a list", {"model": "tutelage", "messages": "hi"}, 400, "invalid_value", "messages"),
    ("message not an object", {"model": "tutelage", "messages": ["hi"]}, 400, "invalid_value", "messages[0]"),
    ("message without role", {"model": "tutelage", "messages": [{"content": "hi"}]}, 400,
     "missing_required_parameter", "messages[0].role"),
    ("unknown role", {"model": "tutelage", "messages": [{"role": "robot", "content": "hi"}]}, 400,
     "invalid_value", "messages[0].role"),
    ("content a number", {"model": "tutelage", "messages": [{"role": "user", "content": 5}]}, 400,
     "invalid_value", "messages[0].content"),
    ("last message from the assistant", {"model": "tutelage", "messages": [
        {"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}]}, 400,
     "invalid_value", "messages[1].role"),
    ("only a system message", {"model": "tutelage", "messages": [{"role": "system", "content": "x"}]},
     400, "invalid_value", "messages[0].role"),
    ("empty question", {"model": "tutelage", "messages": [{"role": "user", "content": ""}]}, 400,
     "invalid_value", "messages"),
    ("blank question", {"model": "tutelage", "messages": [{"role": "user", "content": "   "}]}, 400,
     "invalid_value", "messages"),
    ("null content", {"model": "tutelage", "messages": [{"role": "user", "content": None}]}, 400,
     "invalid_value", "messages"),
    ("too long a question", {"model": "tutelage", "messages": [{"role": "user", "content": LONG}]},
     400, "context_length_exceeded", "messages"),
    ("too long a conversation", {"model": "tutelage", "messages": [
        {"role": "system", "content": LONG}, {"role": "user", "content": "hi"}]}, 400,
     "context_length_exceeded", "messages"),
    ("a tool message with no call", {"model": "tutelage", "messages": [
        {"role": "tool", "content": "x", "tool_call_id": "c1"}, {"role": "user", "content": "hi"}]},
     400, "invalid_value", "messages[0].tool_call_id"),
    ("a function message", {"model": "tutelage", "messages": [
        {"role": "function", "content": "x", "name": "f"}, {"role": "user", "content": "hi"}]},
     400, "unsupported_parameter", "messages[0].role"),
    ("an image part", {"model": "tutelage", "messages": [{"role": "user", "content": [
        {"type": "image_url", "image_url": {"url": "http://x"}}]}]}, 400,
     "unsupported_parameter", "messages[0].content"),
    ("unknown model", {**GOOD, "model": "gpt-4o"}, 404, "model_not_found", "model"),
    ("empty model", {**GOOD, "model": ""}, 404, "model_not_found", "model"),
    ("model not a string", {**GOOD, "model": 3}, 400, "invalid_value", "model"),
    ("weight too high", {**GOOD, "model": "tutelage@99"}, 404, "model_not_found", "model"),
    ("weight not a number", {**GOOD, "model": "tutelage@abc"}, 404, "model_not_found", "model"),
    ("negative weight", {**GOOD, "model": "tutelage@-1"}, 404, "model_not_found", "model"),
    ("temperature too high", {**GOOD, "temperature": 3}, 400, "invalid_value", "temperature"),
    ("temperature a word", {**GOOD, "temperature": "hot"}, 400, "invalid_value", "temperature"),
    ("top_p above 1", {**GOOD, "top_p": 1.5}, 400, "invalid_value", "top_p"),
    ("max_tokens zero", {**GOOD, "max_tokens": 0}, 400, "invalid_value", "max_tokens"),
    ("max_tokens negative", {**GOOD, "max_tokens": -5}, 400, "invalid_value", "max_tokens"),
    ("max_completion_tokens zero", {**GOOD, "max_completion_tokens": 0}, 400, "invalid_value",
     "max_completion_tokens"),
    ("n of 2", {**GOOD, "n": 2}, 400, "unsupported_parameter", "n"),
    ("a tool not a function", {**GOOD, "tools": [{"type": "web_search"}]}, 400,
     "invalid_value", "tools[0].type"),
    ("an unknown response format", {**GOOD, "response_format": {"type": "yaml"}}, 400,
     "invalid_value", "response_format.type"),
    ("an unknown parameter", {**GOOD, "temprature": 0.2}, 400, "unknown_parameter", "temprature"),
    ("logprobs", {**GOOD, "logprobs": True}, 400, "unsupported_parameter", "logprobs"),
    ("stream a word", {**GOOD, "stream": "yes please"}, 400, "invalid_value", "stream"),
    ("stop a number", {**GOOD, "stop": 7}, 400, "invalid_value", "stop"),
    ("metadata not strings", {**GOOD, "metadata": {"a": [1]}}, 400, "invalid_value", "metadata.a"),
    ("user too long", {**GOOD, "user": "u" * 300}, 400, "invalid_value", "user"),
]


def _post(base: str, body: Any) -> httpx.Response:
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    return httpx.post(f"{base}/chat/completions", content=content, timeout=30,
                      headers={"content-type": "application/json"})  # fmt: skip


@pytest.mark.parametrize("what,body,status,code,param", MALFORMED, ids=[m[0] for m in MALFORMED])
def test_malformed_requests_get_openai_errors(served: Served, what: str, body: Any, status: int,
                                              code: str | None, param: str | None) -> None:  # fmt: skip
    r = _post(served.base_url, body)
    assert r.status_code == status, r.text
    err = r.json()["error"]
    assert set(err) == {"message", "type", "param", "code"}
    assert err["message"] and err["type"] in ("invalid_request_error", "not_found_error")
    assert err["code"] == code and err["param"] == param, err
    assert r.headers["x-request-id"]


async def test_malformed_requests_start_nothing_and_log_no_traceback(
    served: Served, client: Client
) -> None:
    for _, body, *_ in MALFORMED:
        _post(served.base_url, body)
    tq = served.config.temporal.task_queue
    started = [wf async for wf in client.list_workflows(
        f"WorkflowType = 'QueryWorkflow' AND TaskQueue = '{tq}' AND ExecutionStatus = 'Running'")]  # fmt: skip
    assert started == []
    assert "Traceback" not in served.log.read_text()


def test_unknown_urls_methods_and_big_bodies(served: Served) -> None:
    r = httpx.get(f"{served.base_url}/nothing-here", timeout=10)
    assert r.status_code == 404 and r.json()["error"]["code"] == "unknown_url"
    r = httpx.get(f"{served.base_url}/chat/completions", timeout=10)
    assert r.status_code == 405 and r.json()["error"]["type"] == "invalid_request_error"
    r = httpx.post(f"{served.base_url}/chat/completions", content=b"x" * 1_100_000, timeout=10)
    assert r.status_code == 413 and r.json()["error"]["code"] == "request_too_large"


def test_health(served: Served) -> None:
    base = served.base_url.removesuffix("/v1")
    assert httpx.get(f"{base}/health/liveness", timeout=10).json() == {"status": "ok"}
    ready = httpx.get(f"{base}/health/readiness", timeout=10)
    assert ready.status_code == 200 and ready.json()["worker"] is True


def test_temporal_unreachable_is_503(tmp_path: Any) -> None:
    port = free_port()
    path = write_school(tmp_path, port)
    log = tmp_path / "gateway.log"
    proc = start_gateway(path, f"127.0.0.1:{free_port()}", log)  # nothing listens there
    try:
        wait_serving(f"http://127.0.0.1:{port}", proc, log)
        r = _post(f"http://127.0.0.1:{port}/v1", GOOD)
        assert r.status_code == 503 and r.json()["error"]["code"] == "temporal_unavailable"
        ready = httpx.get(f"http://127.0.0.1:{port}/health/readiness", timeout=20)
        assert ready.status_code == 503 and ready.json()["temporal"] is False
    finally:
        proc.terminate()
        proc.wait(30)
    assert "Traceback" not in log.read_text()


def test_a_failing_school_is_502_with_the_recorded_reason(client: Client, tmp_path: Any) -> None:
    from .conftest import serve_school

    broken = 'api_key_env = "TUTELAGE_TEST_MISSING_KEY"'
    address = client.service_client.config.target_host
    with serve_school(address, tmp_path, sup_extra=broken, stu_extra=broken) as s:
        r = _post(s.base_url, GOOD)
        err = r.json()["error"]
        assert r.status_code == 502 and err["code"] == "school_failed", err
        assert "every member asked failed" in err["message"]
        assert "TUTELAGE_TEST_MISSING_KEY" in err["message"]  # each member's recorded error
        assert "/workflows/query-" in err["message"]  # the run, to look at in the UI
        rows = s.ledger_rows("SELECT status FROM queries")
    assert rows == [("failed",)]  # recorded as failed, with the members' errors


async def test_a_gateway_killed_mid_request_loses_no_query(client: Client, tmp_path: Any) -> None:
    import asyncio
    import signal
    import threading

    from .conftest import serve_school

    slow = 'params = { mock_response = "42", mock_delay = 3 }'
    address = client.service_client.config.target_host
    with serve_school(address, tmp_path, sup_extra=slow, stu_extra=slow) as s:
        tq = s.config.temporal.task_queue
        outcome: list[Any] = []
        sender = threading.Thread(target=lambda: outcome.append(_try_post(s.base_url)))
        sender.start()
        running: list[Any] = []
        for _ in range(100):  # until the request's QueryWorkflow runs
            running = [wf async for wf in client.list_workflows(
                f"WorkflowType = 'QueryWorkflow' AND TaskQueue = '{tq}'")]  # fmt: skip
            if running:
                break
            await asyncio.sleep(0.1)
        assert running, "the request started no workflow"
        s.gateway.send_signal(signal.SIGKILL)
        sender.join(30)
        # The run does not need the gateway: it completes, and is recorded.
        from tutelage.workflows.query import QueryWorkflow

        result = await client.get_workflow_handle_for(QueryWorkflow.run, running[0].id).result()
        rows = s.ledger_rows("SELECT status FROM queries WHERE query_id = ?", [result.query_id])
    assert isinstance(outcome[0], Exception)  # the client lost its connection
    assert result.status == "ok" and result.answer == "42"
    assert rows == [("ok",)]


def _try_post(base: str) -> Any:
    try:
        return _post(base, GOOD)
    except Exception as exc:  # noqa: BLE001 - the test inspects it
        return exc


def test_metrics_count_requests_tokens_and_spend(served: Served) -> None:
    client = openai.OpenAI(base_url=served.base_url, api_key="unused", max_retries=0)
    client.chat.completions.create(model="tutelage", messages=QUESTION)
    _post(served.base_url, {"model": "nope", "messages": QUESTION})
    text = httpx.get(served.base_url.removesuffix("/v1") + "/metrics", timeout=10).text
    lines = text.splitlines()
    assert "# TYPE tutelage_requests_total counter" in lines
    ok = [x for x in lines if x.startswith('tutelage_requests_total{path="/v1/chat/completions",status="200"}')]
    assert ok and float(ok[0].split()[-1]) >= 1
    assert any(x.startswith('tutelage_requests_total{path="/v1/chat/completions",status="404"}')
               for x in lines)  # fmt: skip
    assert any(x.startswith('tutelage_completions_total{member="') for x in lines)
    assert any(x.startswith('tutelage_tokens_total{kind="completion",member="') for x in lines)
    cost = [x for x in lines if x.startswith('tutelage_cost_usd_total{tenant="default"}')]
    assert cost and float(cost[0].split()[-1]) > 0
    assert any(x.startswith('tutelage_request_seconds_bucket{path="/v1/chat/completions",le="+Inf"}')
               for x in lines)  # fmt: skip
