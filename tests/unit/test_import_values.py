"""What a CSV cell becomes in an imported trait: a number only when it is written as JSON writes
one, and then with every digit; everything else stays the text it was."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from typing import Any

import pytest

from cdp.intake.importing import ImportMapping, row_message, rows


def imported_trait(cell: str) -> Any:
    file = io.BytesIO(f"id,value\nc-1,{cell}\n".encode())
    [row] = rows(file, "csv")
    mapping = ImportMapping(identities={"user_id": "id"}, traits={"value": "value"})
    message = row_message(
        row, mapping, source="crm", file_id="f", default_time=datetime(2026, 11, 1, tzinfo=UTC)
    )
    return message["traits"].get("value")


@pytest.mark.parametrize(
    ("cell", "value"),
    [
        ("42", 42),
        ("-7", -7),
        ("0", 0),
        ("2.5", 2.5),
        ("1e3", 1000),
        ("1.0", 1.0),
        ("12345678901234567890123", 12345678901234567890123),  # not through a float
        ("true", True),
        ("FALSE", False),
        ("", None),
        ("0612345678", "0612345678"),  # a phone number keeps its leading zero
        ("01234", "01234"),  # a postcode
        ("NaN", "NaN"),  # not a number in JSON (and a name)
        ("Nan", "Nan"),
        ("inf", "inf"),
        ("Infinity", "Infinity"),
        ("1e999", "1e999"),  # past a double
        ("1_000", "1_000"),
        ("+5", "+5"),
        (".5", ".5"),
        ("12 apples", "12 apples"),
    ],
)
def test_a_cell_becomes_a_number_only_when_json_would_read_one(cell: str, value: Any) -> None:
    read = imported_trait(cell)
    assert read == value
    assert type(read) is type(value)
