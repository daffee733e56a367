"""Member lists as tools use them: which identity types may be asked for, each member's values,
CSV no spreadsheet runs, and pages that fit one Lambda answer."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cdp.runtime.errors import InvalidRequestError
from cdp.segments import member_list
from cdp.segments.member_list import csv_page, identifier_types, identifiers_of, json_page


def row(profile_id: str, **identifiers: list[str]) -> dict[str, Any]:
    return {"profile_id": profile_id, "entered_at": "2026-11-28T09:00:00.000Z",
            "identifiers": identifiers}  # fmt: skip


def test_types_are_read_in_order_once_each_external_ones_too() -> None:
    assert identifier_types(None) == ()
    assert identifier_types(" email,user_id , phone,email,") == ("email", "user_id", "phone")
    assert identifier_types("anonymous_id,crm_id,ga_client_id") == (
        "anonymous_id", "crm_id", "ga_client_id",
    )  # fmt: skip


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("", "name one or more identity types"),
        ("Email", "'Email' is not an identity type"),
        ("email,e-mail", "'e-mail' is not an identity type"),
        ("profile_id", "every member has its profile_id already"),
        (",".join(f"t{n}" for n in range(11)), "at most 10 identity types"),
    ],
)
def test_what_is_not_an_identity_type_is_named(text: str, says: str) -> None:
    with pytest.raises(InvalidRequestError, match=says):
        identifier_types(text)


def test_values_come_most_recently_linked_first() -> None:
    identities = {
        "email:old@example.com": "2026-01-01T00:00:00Z",
        "email:new@example.com": "2026-11-01T00:00:00Z",
        "user_id:42": "2026-05-01T00:00:00Z",
        "anonymous_id:a-1": "2026-05-01T00:00:00Z",
    }

    found = identifiers_of(identities, ["email", "user_id", "phone"])

    assert found == {"email": ["new@example.com", "old@example.com"], "user_id": ["42"],
                     "phone": []}  # fmt: skip


def test_a_cell_a_spreadsheet_would_run_starts_with_a_quote_and_phone_numbers_stay() -> None:
    values = ["=HYPERLINK(\"http://x\")", "@SUM(A1)", "-2+3+cmd|' /C calc'!A0", "+SUM(1)",
              "\tx", "+31 6 1234 5678", "-42", "ada@example.com", 'say "hi", then go']  # fmt: skip
    rows = [row(f"p{n}", user_id=[value]) for n, value in enumerate(values)]

    text, cursor = csv_page(rows, ["user_id"], None)

    header, *cells = list(csv.reader(io.StringIO(text)))
    assert header == ["profile_id", "entered_at", "user_id"]
    assert [c[2] for c in cells] == [
        "'=HYPERLINK(\"http://x\")", "'@SUM(A1)", "'-2+3+cmd|' /C calc'!A0", "'+SUM(1)", "'\tx",
        "+31 6 1234 5678", "-42", "ada@example.com", 'say "hi", then go',
    ]  # fmt: skip
    assert cursor is None


def test_a_member_without_values_has_empty_cells_and_only_the_newest_value_is_in_one() -> None:
    text, _ = csv_page(
        [row("p1", email=["new@x.nl", "old@x.nl"], phone=[])], ["email", "phone"], "p0"
    )

    assert text == (
        "profile_id,entered_at,email,phone\r\np1,2026-11-28T09:00:00.000Z,new@x.nl,\r\n"
    )


def test_a_page_stops_before_it_would_not_fit_one_answer(monkeypatch: pytest.MonkeyPatch) -> None:
    # given answers of at most 600 bytes, and rows of about 240 bytes as JSON and 160 as CSV
    # (as escaped in Lambda's answer, where an `é` takes six or seven bytes)
    monkeypatch.setattr(member_list, "MAX_ANSWER_BYTES", 600)
    rows = [row(f"p{n}", email=["é" * 20 + "@example.com"]) for n in range(5)]

    # then a page holds the rows that fit, and its cursor goes on after the last of them
    kept, cursor = json_page(rows, None)
    assert [r["profile_id"] for r in kept] == ["p0", "p1"]
    assert cursor == "p1"
    text, cursor = csv_page(rows, ["email"], "p4")
    assert text.count("\r\n") == 1 + 3  # the header and three rows
    assert cursor == "p2"

    # and a row too long for any answer is given alone rather than never
    kept, cursor = json_page([row("p0", email=["x" * 700]), *rows], "p5")
    assert (len(kept), cursor) == (1, "p0")


def test_the_whole_page_and_its_cursor_when_it_fits() -> None:
    rows = [row(f"p{n}", email=[f"{n}@example.com"]) for n in range(3)]

    assert json_page(rows, "p2") == (rows, "p2")
    assert json.loads(json.dumps(json_page(rows, None)[0])) == rows


@settings(max_examples=200, deadline=None)
@given(st.lists(st.text(max_size=30), min_size=1, max_size=5))
def test_any_value_reads_back_from_the_csv_as_it_was_but_for_the_quote(values: list[str]) -> None:
    rows = [row(f"p{n}", crm_id=[value]) for n, value in enumerate(values)]

    text, _ = csv_page(rows, ["crm_id"], None)

    _, *cells = list(csv.reader(io.StringIO(text, newline="")))
    for value, read in zip(values, cells, strict=True):
        assert read[2] in (value, "'" + value)
        if read[2] != value:
            assert value[0] in "=+-@\t\r"
