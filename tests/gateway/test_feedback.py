"""POST /v1/feedback on a real `tutelage serve` and worker: a rating of a completion becomes
user verdicts in the ledger; another tenant's completion and an unknown one are the same 404;
bad requests are 400s naming the parameter; rating again keeps the history."""

from __future__ import annotations

from typing import Any

import httpx
import openai

from .conftest import Served, run_cli

QUESTION = [{"role": "user", "content": "What is six times seven?"}]


def test_feedback_rates_the_served_member_for_its_tenant_only(keyed: Served) -> None:
    keys = {}
    for tenant in ("acme", "globex"):
        made = run_cli(keyed, "keys", "create", "--tenant", tenant)
        assert made.returncode == 0, made.stderr
        keys[tenant] = made.stdout.strip().splitlines()[-1]
    client = openai.OpenAI(base_url=keyed.base_url, api_key=keys["acme"], max_retries=0)
    raw = client.chat.completions.with_raw_response.create(model="tutelage", messages=QUESTION)
    completion = raw.parse()
    served = completion.model_extra["tutelage"]["member"]  # type: ignore[index]
    query_id = raw.headers["x-tutelage-query-id"]
    assert completion.id == f"chatcmpl-{query_id}"
    url = f"{keyed.base_url}/feedback"

    def post(body: Any, tenant: str = "acme", **kw: Any) -> httpx.Response:
        return httpx.post(url, timeout=60, headers={"authorization": f"Bearer {keys[tenant]}"},
                          **({"content": body} if isinstance(body, bytes) else {"json": body}),
                          **kw)  # fmt: skip

    first = post({"completion_id": completion.id, "rating": "down", "comment": "wrong",
                  "correction": "6 x 7 = 42"})  # fmt: skip
    assert first.status_code == 200, first.text
    body = first.json()
    assert (body["object"], body["query_id"], body["revision"]) == ("feedback", query_id, 1)
    assert body["member"] == served and body["score"] == 0.0 and body["correction"] is True
    # Both members answered "42" (agreement judging: both pass), so the supervisor, which
    # agreed with the served answer, is rated with it.
    assert body["verdicts"] == {"stu": 0.0, "sup": 0.0}

    # Another tenant's completion and an unknown one: the same 404, nothing recorded.
    theirs = post({"completion_id": completion.id, "score": 1}, tenant="globex")
    unknown = post({"completion_id": "chatcmpl-20990101-000000-deadbeef", "score": 1})
    odd = post({"completion_id": "no such thing!", "score": 1})
    for r in (theirs, unknown, odd):
        assert r.status_code == 404, r.text
        assert r.json()["error"]["code"] == "completion_not_found"
        assert r.json()["error"]["param"] == "completion_id"
    assert theirs.json()["error"]["message"] == unknown.json()["error"]["message"].replace(
        "chatcmpl-20990101-000000-deadbeef", completion.id)  # fmt: skip

    # Bad requests: a 400 naming the parameter; never a traceback.
    for bad, param in (({"completion_id": completion.id, "score": 1.5}, "score"),
                       ({"completion_id": completion.id, "score": 1, "rating": "up"}, "rating"),
                       ({"completion_id": completion.id}, "score"),
                       ({"score": 1}, "completion_id"),
                       ({"completion_id": completion.id, "rating": "meh"}, "rating"),
                       ({"completion_id": completion.id, "rating": ["up"]}, "rating"),
                       ({"completion_id": completion.id, "score": 10**400}, "score"),
                       ({"completion_id": completion.id, "score": 1, "comment": "x" * 2001},
                        "comment")):  # fmt: skip
        r = post(bad)
        assert r.status_code == 400 and r.json()["error"]["param"] == param, r.text
    assert post(b"{not json").json()["error"]["code"] == "invalid_json"
    assert post(b"[1]").status_code == 400
    # Bodies under the limit that Python's json refuses: a 400, never a 500.
    for body in (b'{"completion_id": "q", "score": ' + b"9" * 5000 + b"}",
                 b"[" * 50_000 + b"]" * 50_000):  # fmt: skip
        r = post(body)
        assert r.status_code == 400 and r.json()["error"]["code"] == "invalid_json", r.text
    assert post(b'{"completion_id": "' + b"x" * 200_000 + b'"}').status_code == 413
    nokey = httpx.post(url, json={"completion_id": completion.id, "score": 1}, timeout=30)
    assert nokey.status_code == 401 and nokey.json()["error"]["code"] == "missing_api_key"

    # Rating again (by the header's bare query id) replaces the rating and keeps the history.
    again = post({"completion_id": query_id, "score": 0.9})
    assert again.status_code == 200 and again.json()["revision"] == 2, again.text
    assert again.json()["verdicts"] == {"stu": 0.9, "sup": 0.9}

    # The command line does the same; --tenant must be the completion's.
    cli = run_cli(keyed, "feedback", completion.id, "--rating", "up", "--tenant", "acme")
    assert cli.returncode == 0, cli.stderr
    assert f"rated query {query_id} of tenant acme: up (1.00), rating 3" in cli.stdout
    wrong = run_cli(keyed, "feedback", completion.id, "--score", "1", "--tenant", "globex")
    assert wrong.returncode == 1 and "no completion" in wrong.stderr
    out_of_range = run_cli(keyed, "feedback", completion.id, "--score", "2")
    assert out_of_range.returncode == 1 and "--score" in out_of_range.stderr
    assert "Traceback" not in wrong.stderr + out_of_range.stderr

    # A completion's history is bounded: past MAX_RATINGS_PER_QUERY a rating is refused (429,
    # not to be retried) and nothing of it is written (the ledger, read below, holds
    # MAX_RATINGS_PER_QUERY ratings and the first correction).
    from tutelage.policy.feedback import MAX_RATINGS_PER_QUERY

    for i in range(3, MAX_RATINGS_PER_QUERY):
        r = post({"completion_id": query_id, "score": 1})
        assert r.status_code == 200, (i, r.text)
    full = post({"completion_id": query_id, "score": 0, "correction": "41"})
    assert full.status_code == 429 and full.headers["x-should-retry"] == "false", full.text
    assert full.json()["error"]["code"] == "too_many_ratings"
    cli_full = run_cli(keyed, "feedback", completion.id, "--score", "0")
    assert cli_full.returncode == 1 and f"rated {MAX_RATINGS_PER_QUERY} times" in cli_full.stderr

    history = keyed.ledger_rows("SELECT seq, score, rating, comment, correction, source, tenant"
                                " FROM feedback ORDER BY seq")  # fmt: skip
    assert history[:3] == [(1, 0.0, "down", "wrong", "6 x 7 = 42", "api", "acme"),
                           (2, 0.9, None, None, None, "api", "acme"),
                           (3, 1.0, "up", None, None, "cli", "acme")]  # fmt: skip
    assert len(history) == MAX_RATINGS_PER_QUERY
    assert history[-1] == (MAX_RATINGS_PER_QUERY, 1.0, None, None, None, "api", "acme")
    verdicts = keyed.ledger_rows("SELECT member_id, score, tenant FROM verdicts WHERE judge ="
                                 " 'user' ORDER BY 1")  # fmt: skip
    assert verdicts == [("stu", 1.0, "acme"), ("sup", 1.0, "acme")]
    assert keyed.ledger_rows("SELECT query_id, tenant, correction, seq FROM corrections") == [
        (query_id, "acme", "6 x 7 = 42", 1)]  # fmt: skip
