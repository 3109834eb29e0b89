"""Members that are real OpenAI-compatible model servers: llama_cpp.server serving the bundled
gemma3-270m on a loopback port (tests/providers/served.py), called over HTTP through litellm's
`openai/` provider with `api_base`, as a member's config calls Ollama or vLLM. What litellm's
real provider path does is what is tested: an answer and its usage, a token stream, an LLM judge
that answers badly, a server that hangs, one killed in the middle of an answer, one absent."""

from __future__ import annotations

import asyncio
import time
import uuid
from importlib.util import find_spec
from pathlib import Path
from typing import Any

import pytest

if find_spec("llama_cpp") is None or find_spec("starlette_context") is None:
    pytest.skip("model servers need the [local] extra (llama-cpp-python[server])",
                allow_module_level=True)  # fmt: skip

from temporalio.exceptions import ApplicationError  # noqa: E402

from tests.conftest import make_config  # noqa: E402
from tutelage.activities.calls import ModelCalls  # noqa: E402
from tutelage.client import start_query  # noqa: E402
from tutelage.models import AnswerRequest, QueryInput, QueryResult  # noqa: E402
from tutelage.providers._litellm import litellm  # noqa: E402
from tutelage.providers.catalog import ConfigCatalog  # noqa: E402
from tutelage.workers.devserver import free_port  # noqa: E402

from .served import API_KEY, ServedModel, bundled_gguf, serve  # noqa: E402

pytestmark = pytest.mark.slow

QUESTION = "What is the capital of France?"
STORY = "Write a very long story about a dragon who learns to fly, in many chapters."


def _mocked(member_id: str, answer: str, role: str) -> dict[str, Any]:
    return {"id": member_id, "model": f"openai/{member_id}-model", "role": role,
            "input_price": 1e-5, "output_price": 3e-5, "params": {"mock_response": answer}}  # fmt: skip


@pytest.fixture(scope="module")
def gguf(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return bundled_gguf(tmp_path_factory.mktemp("served-model"))


@pytest.fixture(scope="module")
def served(gguf: Path, tmp_path_factory: pytest.TempPathFactory) -> Any:
    """One server for the tests that leave it running (the hang test resumes it)."""
    with serve(gguf, tmp_path_factory.mktemp("served")) as server:
        yield server


def _calls(tmp_path: Path, *members: dict[str, Any]) -> ModelCalls:
    cfg = make_config(tmp_path, members=list(members), supervisor=members[0]["id"])
    return ModelCalls(ConfigCatalog(cfg))


def _request(member_id: str, text: str = QUESTION) -> AnswerRequest:
    return AnswerRequest(query_id=uuid.uuid4().hex[:12], member_id=member_id,
                         model="openai/gemma3-270m", text=text, timeout_s=30)  # fmt: skip


async def _ask(s: Any, text: str = QUESTION) -> QueryResult:
    handle = await start_query(s.client, s.config,
                               QueryInput(text=text, query_id=uuid.uuid4().hex[:12]))  # fmt: skip
    result: QueryResult = await asyncio.wait_for(handle.result(), 120)
    return result


def _ledger_calls(s: Any, query_id: str) -> list[tuple[Any, ...]]:
    return s.services.ledger.rows(  # type: ignore[no-any-return]
        "SELECT member_id, kind, tokens_in, tokens_out, cost_usd, error, error_kind FROM calls "
        "WHERE query_id = ? ORDER BY member_id, kind", [query_id])  # fmt: skip


async def test_plain_answer_with_its_tokens_and_cost(served: ServedModel, tmp_path: Path) -> None:
    calls = _calls(tmp_path, served.member("gemma"))
    answer = await asyncio.wait_for(calls.answer(_request("gemma")), 60)
    assert "Paris" in (answer.text or "")
    assert answer.tokens_in > 5 and 1 <= answer.tokens_out <= 16  # the member's max_tokens
    assert answer.cost_usd == pytest.approx(answer.tokens_in * 1e-7 + answer.tokens_out * 2e-7)
    assert answer.latency_ms > 0 and answer.error is None


async def test_streamed_answer_arrives_over_time(served: ServedModel) -> None:
    started = time.perf_counter()
    stream = await litellm.acompletion(
        model="openai/gemma3-270m", api_base=served.api_base, api_key=API_KEY, num_retries=0,
        timeout=60, stream=True, max_tokens=32, temperature=0,
        messages=[{"role": "user", "content": QUESTION}])  # fmt: skip
    arrivals: list[float] = []
    text = ""

    async def read() -> None:
        nonlocal text
        async for chunk in stream:
            delta = chunk.choices[0].delta.content if chunk.choices else None
            if delta:
                arrivals.append(time.perf_counter())
                text += delta

    await asyncio.wait_for(read(), 60)
    total = arrivals[-1] - started
    assert "Paris" in text
    assert len(arrivals) > 5, "one chunk per token, not the whole answer at once"
    # The tokens came as they were generated: the first long before the last.
    assert arrivals[-1] - arrivals[0] > 0.3 * total > 0, (arrivals[0] - started, total)


async def test_llm_judge_on_a_served_supervisor(served: ServedModel, school: Any) -> None:
    """The served model is the supervisor, so it answers and judges. A 270M base model cannot
    write the judge's JSON: the call is made twice (the retry with the error), and the query
    completes with its answers recorded, unjudged (or judged, if it ever manages)."""
    members = [served.member("sup", role="teacher", max_tokens=24), _mocked("stu", "Paris", "ta")]
    async with school(judge={"mode": "llm"}, members=members) as s:
        r = await _ask(s)
        rows = _ledger_calls(s, r.query_id)
        verdicts = s.services.ledger.rows(
            "SELECT member_id, judge, score FROM verdicts WHERE query_id = ? ORDER BY member_id",
            [r.query_id])  # fmt: skip
    assert r.status == "ok", r.error
    assert r.winner in {"sup", "stu"} and r.answer
    assert sorted(r.members_asked) == ["stu", "sup"]
    by_kind = {(m, k): (tin, tout, cost, err) for m, k, tin, tout, cost, err, _ in rows}
    sup_in, sup_out, sup_cost, sup_err = by_kind[("sup", "answer")]
    assert sup_err is None and sup_in > 5 and sup_out >= 1
    assert sup_cost == pytest.approx(sup_in * 1e-7 + sup_out * 2e-7)
    judge_in, judge_out, judge_cost, judge_err = by_kind[("sup", "judge")]
    assert judge_err is None and judge_in > 50 and judge_out >= 1 and judge_cost > 0
    assert [m for m, _, _ in verdicts] == ["stu", "sup"]
    for _, judge, score in verdicts:
        assert (judge, score is None) in {("unjudged", True), ("supervisor:sup", False)}
    if all(judge == "unjudged" for _, judge, _ in verdicts):
        assert r.scores == {"sup": None, "stu": None}
        assert judge_in > 2 * 50, "asked twice: the retry carries the first reply and its error"


async def test_hanging_server_times_out_and_another_member_answers(
    served: ServedModel, school: Any
) -> None:
    """SIGSTOP: the server accepts connections (the kernel does) and never answers. Each try
    of the member's call ends at its timeout_s; after Temporal's tries its timeout is recorded
    and the supervisor's answer is served."""
    members = [_mocked("sup", "Paris", "teacher"), served.member("stu", role="ta", timeout_s=3,
                                                                 max_tokens=8)]  # fmt: skip
    async with school(members=members) as s:
        served.pause()
        try:
            started = time.monotonic()
            r = await _ask(s)
            took = time.monotonic() - started
        finally:
            served.resume()
        rows = _ledger_calls(s, r.query_id)
    assert r.status == "ok" and r.winner == "sup" and r.answer == "Paris"
    stu = next(c for c in r.calls if c.member_id == "stu")
    assert stu.error_kind == "Timeout" and "stu: Timeout" in (stu.error or "")
    assert "timeout value=3" in (stu.error or "")
    assert ("stu", "answer", 0, 0, 0.0, stu.error, "Timeout") in rows
    assert took >= 4 * 3, "every try waited its timeout"
    assert await asyncio.to_thread(served.wait_ready, 30) < 30, "the server serves again"


async def test_server_killed_mid_answer_is_a_broken_connection(gguf: Path, tmp_path: Path) -> None:
    """One call, the server SIGKILLed while it generates a long answer: the error names the
    member, the server and what happened, and a retry may help (the server may come back)."""
    with serve(gguf, tmp_path / "server") as server:
        calls = _calls(tmp_path, server.member("stu", max_tokens=400, timeout_s=60))
        call = asyncio.create_task(calls.answer(_request("stu", STORY)))
        await asyncio.to_thread(server.wait_busy)
        server.kill()
        with pytest.raises(ApplicationError) as failed:
            await asyncio.wait_for(call, 30)
    assert failed.value.type == "APIConnectionError" and not failed.value.non_retryable
    assert failed.value.message.startswith(
        f"stu: APIConnectionError: the connection to {server.api_base} broke in the middle of "
        "the answer")  # fmt: skip
    assert "did the model server stop?" in failed.value.message


async def test_server_killed_mid_answer_another_member_answers(
    gguf: Path, tmp_path: Path, school: Any
) -> None:
    """The same in a query: the member's failure is recorded (its last try found no server)
    and the supervisor's answer is served."""
    with serve(gguf, tmp_path / "server") as server:
        members = [_mocked("sup", "Once upon a time", "teacher"),
                   server.member("stu", role="ta", max_tokens=400, timeout_s=60)]  # fmt: skip
        async with school(members=members) as s:
            query = asyncio.create_task(_ask(s, STORY))
            await asyncio.to_thread(server.wait_busy)
            server.kill()
            r = await query
            rows = _ledger_calls(s, r.query_id)
    assert r.status == "ok" and r.winner == "sup" and r.answer == "Once upon a time"
    stu = next(c for c in r.calls if c.member_id == "stu")
    assert stu.error_kind == "APIConnectionError"
    assert stu.error == (f"stu: APIConnectionError: cannot reach {server.api_base} "
                         "(is the model server running?)")  # fmt: skip
    assert ("stu", "answer", 0, 0, 0.0, stu.error, "APIConnectionError") in rows


async def test_absent_server_names_the_member_and_its_api_base(tmp_path: Path) -> None:
    port = free_port()  # nothing listens there
    member = {"id": "stu", "model": "openai/gemma3-270m", "api_base": f"http://127.0.0.1:{port}/v1",
              "params": {"api_key": API_KEY}}  # fmt: skip
    calls = _calls(tmp_path, member)
    with pytest.raises(ApplicationError) as failed:
        await asyncio.wait_for(calls.answer(_request("stu")), 30)
    assert failed.value.message == (f"stu: APIConnectionError: cannot reach "
                                    f"http://127.0.0.1:{port}/v1 (is the model server running?)")  # fmt: skip
    assert failed.value.type == "APIConnectionError" and not failed.value.non_retryable
