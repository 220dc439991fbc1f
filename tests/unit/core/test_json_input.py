"""Every way JSON input fails becomes one error naming the problem."""

from __future__ import annotations

import pytest

from bot.core.json_input import JsonInputError, parse_json


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        (b"{not json", "not valid JSON"),
        (b'{"a": "\xff"}', "UTF-8"),
        (b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
        (b'{"n": ' + b"9" * 5000 + b"}", "number that cannot be read"),
    ],
)
def test_bad_json_is_one_error_that_names_the_problem(raw: bytes, problem: str) -> None:
    with pytest.raises(JsonInputError, match=problem):
        parse_json(raw)


def test_good_json_is_parsed() -> None:
    assert parse_json('{"a": [1, "二"]}') == {"a": [1, "二"]}
