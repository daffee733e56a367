"""Choosing the coding of the tracker's answer, and revalidating it (cdp.intake.assets)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cdp.intake.assets import choose_encoding, not_modified


@pytest.mark.parametrize(
    ("accept", "expected"),
    [
        ("gzip, deflate, br, zstd", "br"),  # Chromium over https
        ("gzip, deflate", "gzip"),  # Chromium over http
        ("br", "br"),
        ("GZIP", "gzip"),
        ("x-gzip", "gzip"),
        ("deflate", "identity"),
        ("", "identity"),
        (None, "identity"),
        ("identity", "identity"),
        ("*", "br"),
        ("*;q=0", "identity"),
        ("br;q=0, *", "gzip"),
        ("br;q=0, gzip;q=0", "identity"),
        ("gzip;q=0.9, br;q=0.8", "gzip"),  # the browser's preference first
        ("gzip;q=0.8, br;q=0.8", "br"),  # then ours
        ("br ; q=0.5 , gzip ; q=0.4", "br"),
        ("br;q=nonsense, gzip", "gzip"),  # an unreadable q-value is not acceptance
        ("br;q=2, gzip", "gzip"),
        (",,;;=", "identity"),
    ],
)
def test_the_best_acceptable_coding_is_chosen(accept: str | None, expected: str) -> None:
    assert choose_encoding(accept) == expected


@given(st.text(max_size=200))
def test_any_accept_encoding_gives_a_coding_we_hold(accept: str) -> None:
    assert choose_encoding(accept) in {"br", "gzip", "identity"}


@pytest.mark.parametrize(
    ("if_none_match", "expected"),
    [
        ('"abc-br"', True),
        ('W/"abc-br"', True),  # weak comparison
        ('"x", "abc-br"', True),
        ("*", True),
        ('"abc"', False),  # the identity copy's tag: other bytes
        ('"abc-gzip"', False),
        ("", False),
        (None, False),
        ("abc-br", False),  # unquoted: not this tag
    ],
)
def test_a_revalidation_matches_only_the_same_copy(
    if_none_match: str | None, expected: bool
) -> None:
    assert not_modified(if_none_match, '"abc-br"') is expected
