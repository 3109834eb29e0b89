"""Request bodies as JSON objects: every body that fits the limit and does not parse is the
client's 400, named, never a 500."""

from __future__ import annotations

import pytest

from tutelage.gateway.body import json_object
from tutelage.gateway.errors import APIError


@pytest.mark.parametrize(("raw", "code", "says"), [
    (b"{not json", "invalid_json", "could not parse"),
    (b"\xff\xfe{}", "invalid_json", "could not parse"),
    # Past Python's limit on an integer's digits (int_max_str_digits): a ValueError in json.
    (b'{"score": ' + b"9" * 5000 + b"}", "invalid_json", "could not parse"),
    # Nested past the recursion limit: a RecursionError in json.
    (b"[" * 100_000 + b"]" * 100_000, "invalid_json", "nests too deeply"),
    (b"[1, 2]", "invalid_request_body", "must be a JSON object"),
])  # fmt: skip
def test_a_body_that_is_not_a_json_object_is_a_named_400(raw: bytes, code: str,
                                                         says: str) -> None:  # fmt: skip
    with pytest.raises(APIError) as caught:
        json_object(raw)
    assert caught.value.status == 400 and caught.value.code == code
    assert says in caught.value.message


def test_a_json_object_is_read() -> None:
    assert json_object(b'{"completion_id": "q", "score": 1}') == {"completion_id": "q", "score": 1}
