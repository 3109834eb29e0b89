"""Real token streaming: a member answering alone streams its tokens to the client as it
generates them (through the gateway's own stream worker), over real HTTP model servers."""

from __future__ import annotations

import json
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from ..model_server import WORD_S, ModelServer
from .conftest import Served, serve_school, start_gateway, stop, wait_serving

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def models() -> Iterator[ModelServer]:
    with ModelServer() as server:
        yield server


def _stream(base: str, question: str) -> tuple[list[tuple[float, dict[str, Any]]], float]:
    """The SSE events of one streamed request, each with its arrival time after the request."""
    events = []
    started = time.perf_counter()
    with httpx.stream("POST", f"{base}/chat/completions", timeout=60, json={
            "model": "tutelage", "stream": True,
            "messages": [{"role": "user", "content": question}]}) as r:  # fmt: skip
        assert r.status_code == 200
        for line in r.iter_lines():
            if line.startswith("data: ") and line != "data: [DONE]":
                events.append((time.perf_counter() - started, json.loads(line[6:])))
    return events, time.perf_counter() - started


def _content(events: list[tuple[float, dict[str, Any]]]) -> list[tuple[float, str]]:
    return [(t, c["delta"]["content"]) for t, e in events for c in e.get("choices", [])
            if c["delta"].get("content")]  # fmt: skip


@pytest.fixture(scope="module")
def streaming_school(temporal_env: Any, tmp_path_factory: pytest.TempPathFactory,
                     models: ModelServer) -> Iterator[Served]:  # fmt: skip
    address = temporal_env.client.service_client.config.target_host
    with serve_school(address, tmp_path_factory.mktemp("streaming"),
                      stu_extra=models.member_lines("streamer", 20)) as s:  # fmt: skip
        # The TA and the teacher agree on a first question: the TA then answers its kind alone.
        httpx.post(f"{s.base_url}/chat/completions", timeout=60, json={
            "model": "tutelage", "messages": [{"role": "user", "content":
                                               "Tell me a story that ends in 42."}]})  # fmt: skip
        yield s


def test_a_member_answering_alone_streams_its_tokens_as_it_generates_them(
    streaming_school: Served,
) -> None:
    events, total = _stream(streaming_school.base_url, "Tell me a story that ends with 42.")
    pieces = _content(events)
    tail = events[-1][1]
    assert tail["tutelage"]["route"] == "familiar" and tail["tutelage"]["member"] == "stu"
    text = "".join(p for _, p in pieces)
    assert text.endswith("The answer is 42") and len(pieces) >= 30
    # Tokens arrive as generated (a word every WORD_S: 2 s for the 40), not in one burst at the
    # end: the first came at least half that before the last.
    first, last = pieces[0][0], pieces[-1][0]
    assert last - first > 20 * WORD_S, (first, last)
    finish = [c["finish_reason"] for _, e in events for c in e.get("choices", [])
              if c.get("finish_reason")]  # fmt: skip
    assert finish == ["stop"] and tail["usage"]["completion_tokens"] > 0
    result = _result(streaming_school, tail["tutelage"]["query_id"])
    # The streamed call is the run's one answer, recorded with its usage and cost.
    assert [c.member_id for c in result.calls] == ["stu"] and result.answer == text.strip()
    assert result.calls[0].tokens_out > 0 and result.calls[0].cost_usd > 0


def test_a_member_that_dies_mid_stream_ends_the_stream_with_an_error_event(
    temporal_env: Any, tmp_path: Path, models: ModelServer,
) -> None:
    address = temporal_env.client.service_client.config.target_host
    with serve_school(address, tmp_path, stu_extra=models.member_lines("dier", 20)) as s:
        httpx.post(f"{s.base_url}/chat/completions", timeout=60, json={
            "model": "tutelage", "messages": [{"role": "user", "content": "A story of 42?"}]})  # fmt: skip
        events, _ = _stream(s.base_url, "A story that ends in 42?")
        pieces = _content(events)
        assert pieces, "tokens were streamed before the member died"
        assert events[-1][1]["error"]["code"] == "stream_interrupted"
        assert "stu" in events[-1][1]["error"]["message"]


def test_a_gateway_that_dies_mid_stream_loses_the_stream_not_the_run(
    streaming_school: Served, tmp_path: Path,
) -> None:
    from tutelage.workers.devserver import free_port

    port = free_port()
    log = tmp_path / "second.log"
    second = start_gateway(streaming_school.config.path, streaming_school.address, log,  # type: ignore[arg-type]
                           ["--port", str(port)])  # fmt: skip
    try:
        wait_serving(f"http://127.0.0.1:{port}", second, log, "/health/readiness")
        time.sleep(1.0)  # its stream worker polls its queue
        got: list[str] = []
        with httpx.stream("POST", f"http://127.0.0.1:{port}/v1/chat/completions", timeout=60,
                          json={"model": "tutelage", "stream": True, "messages": [
                              {"role": "user", "content": "Tell a story ending in 42, please."}]},
                          ) as r:  # fmt: skip
            query_id = r.headers["x-tutelage-query-id"]
            for line in r.iter_lines():
                if '"content": "w' in line:
                    got.append(line)
                if len(got) >= 3:
                    second.send_signal(signal.SIGKILL)
                    break
    finally:
        stop(second)
    assert got
    # The run goes on elsewhere (the shared calls queue) and completes.
    result = _result(streaming_school, query_id)
    assert result.status == "ok" and result.answer and result.answer.endswith("42")


def _result(s: Served, query_id: str) -> Any:
    """The run's result, once it has ended (waited for, up to 90 s)."""
    import asyncio

    from temporalio.client import Client
    from temporalio.contrib.pydantic import pydantic_data_converter

    from tutelage.models import QueryResult
    from tutelage.options import query_workflow_id

    async def wait() -> QueryResult:
        client = await Client.connect(s.address, data_converter=pydantic_data_converter)
        handle = client.get_workflow_handle(query_workflow_id(
            "default", query_id, s.config.temporal.task_queue), result_type=QueryResult)  # fmt: skip
        return await asyncio.wait_for(handle.result(), 90)

    return asyncio.run(wait())
