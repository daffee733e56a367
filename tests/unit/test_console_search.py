"""What a console search looks up for what was typed."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cdp.console.search import candidates


@pytest.mark.parametrize(
    ("typed", "looked_up"),
    [
        (" Ada@Example.COM ", ["email:ada@example.com"]),
        ("email:Ada@Example.com", ["email:ada@example.com"]),
        ("user_id:42", ["user_id:42"]),
        ("ga_client_id:123.456", ["ga_client_id:123.456"]),
        ("+31 (6) 1234-5678", ["phone:+31612345678"]),
        ("42", ["user_id:42", "anonymous_id:42", "profile_id:42"]),
        (
            "3f2c9a7e-2b1d-4c1e-9a7f-1e2d3c4b5a69",
            [
                "user_id:3f2c9a7e-2b1d-4c1e-9a7f-1e2d3c4b5a69",
                "anonymous_id:3f2c9a7e-2b1d-4c1e-9a7f-1e2d3c4b5a69",
                "profile_id:3f2c9a7e-2b1d-4c1e-9a7f-1e2d3c4b5a69",
            ],
        ),
    ],
)
def test_what_was_typed_is_looked_up_as_what_it_can_be(typed: str, looked_up: list[str]) -> None:
    assert candidates(typed) == looked_up


@pytest.mark.parametrize("typed", ["", "   ", "x" * 600])
def test_nothing_is_looked_up_for_nothing_or_too_much(typed: str) -> None:
    assert candidates(typed) == []


@given(st.text(max_size=80))
def test_a_search_is_a_few_reads_never_more(typed: str) -> None:
    found = candidates(typed)

    assert len(found) <= 3
    assert len(set(found)) == len(found)
    assert all(":" in key for key in found)
