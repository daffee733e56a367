from __future__ import annotations

from cdp.profiles.traits import TraitTable, TraitValue, current_traits, next_expiry, offer

NOW = "2026-11-23T12:00:00.000Z"


def value(
    v: object, at: str, mid: str = "m", expires: str | None = None, source: str = "web"
) -> TraitValue:
    return TraitValue(value=v, source=source, at=at, message_id=mid, expires_at=expires)


def counting(table: TraitTable) -> dict[str, object]:
    return {name: v.value for name, (_, v) in current_traits(table, NOW).items()}


def test_a_declared_value_outranks_a_newer_observed_one() -> None:
    table: TraitTable = {}
    offer(table, "age", "declared", value(34, "2026-01-01T00:00:00.000Z"))
    offer(table, "age", "observed", value(40, "2026-11-01T00:00:00.000Z"))
    assert counting(table) == {"age": 34}
    assert current_traits(table, NOW)["age"][0] == "declared"


def test_imported_sits_between_declared_and_observed() -> None:
    table: TraitTable = {}
    offer(table, "city", "observed", value("Delft", "2026-11-01T00:00:00.000Z"))
    offer(table, "city", "imported", value("Leiden", "2026-01-01T00:00:00.000Z"))
    assert counting(table) == {"city": "Leiden"}


def test_within_a_kind_event_time_decides_not_arrival() -> None:
    table: TraitTable = {}
    offer(table, "plan", "observed", value("pro", "2026-11-02T00:00:00.000Z"))
    offer(table, "plan", "observed", value("free", "2026-11-01T00:00:00.000Z"))  # arrives late
    assert counting(table) == {"plan": "pro"}


def test_a_null_removes_a_trait_unless_an_older_value_arrives_later() -> None:
    table: TraitTable = {}
    offer(table, "plan", "observed", value("pro", "2026-11-01T00:00:00.000Z"))
    offer(table, "plan", "observed", value(None, "2026-11-02T00:00:00.000Z"))
    assert counting(table) == {}
    offer(table, "plan", "observed", value("free", "2026-10-01T00:00:00.000Z"))
    assert counting(table) == {}


def test_an_expired_declared_value_gives_way_to_the_observed_one() -> None:
    table: TraitTable = {}
    offer(
        table,
        "moving",
        "declared",
        value(True, "2026-01-01T00:00:00.000Z", expires="2026-06-01T00:00:00.000Z"),
    )
    offer(table, "moving", "observed", value(False, "2025-01-01T00:00:00.000Z"))
    assert counting(table) == {"moving": False}


def test_next_expiry_is_the_earliest_future_one() -> None:
    table: TraitTable = {}
    offer(
        table,
        "a",
        "declared",
        value(1, "2026-01-01T00:00:00.000Z", expires="2027-01-01T00:00:00.000Z"),
    )
    offer(
        table,
        "b",
        "declared",
        value(1, "2026-01-01T00:00:00.000Z", expires="2026-12-01T00:00:00.000Z"),
    )
    offer(
        table,
        "c",
        "declared",
        value(1, "2026-01-01T00:00:00.000Z", expires="2026-01-02T00:00:00.000Z"),
    )
    assert next_expiry(table, NOW) == "2026-12-01T00:00:00.000Z"


def test_oversized_values_and_names_are_left_out() -> None:
    table: TraitTable = {}
    assert not offer(table, "notes", "observed", value("x" * 10_000, NOW))
    assert not offer(table, "n" * 500, "observed", value(1, NOW))
    assert not offer(table, "x", "nonsense", value(1, NOW))
    assert table == {}
