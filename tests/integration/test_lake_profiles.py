"""The lake's profiles function on moto: each profile's current state, and the identities it
holds, reach the lake's profiles and identities tables; a redelivery changes nothing; a
profile merged into another or erased leaves both; and events join to profiles in SQL."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.factories import answer_json, basic_auth, http_event
from tests.integration.conftest import WRITE_KEY, Handler, TableStream, bearer
from workbench.cli.sql import as_records, local_query


def query(lake: Path, text: str) -> list[dict[str, Any]]:
    return as_records(local_query(str(lake), text))


def send(collector: Handler, *messages: dict[str, Any]) -> None:
    answer = collector(
        http_event(path="/v1/batch", body={"batch": list(messages)}, headers=basic_auth(WRITE_KEY))
    )
    assert answer_json(answer) == {"success": True}


def test_profiles_reach_the_lake_and_merges_and_erasures_leave_it(
    collector: Handler,
    pipeline: Callable[[], None],
    privacy_api: Handler,
    lake_writer: Handler,
    lake_profiles: Handler,
    lake: Path,
    table_names: dict[str, str],
) -> None:
    events = TableStream(table_names["EVENTS_TABLE"])
    profiles = TableStream(table_names["PROFILES_TABLE"])

    # given two anonymous visitors, then one signs up on the second device too (a merge)
    send(
        collector,
        {"type": "page", "anonymousId": "lp-phone", "name": "Home"},
        {"type": "page", "anonymousId": "lp-laptop", "name": "Pricing"},
    )
    pipeline()
    first = profiles.new_records()
    assert lake_profiles(first) == {"batchItemFailures": []}
    assert len(query(lake, "SELECT * FROM profiles")) == 2
    send(
        collector,
        {"type": "identify", "anonymousId": "lp-phone", "userId": "lp-1",
         "traits": {"email": "lp1@example.com", "plan": "pro"}},
        {"type": "identify", "anonymousId": "lp-laptop", "userId": "lp-1"},
        {"type": "track", "userId": "lp-1", "event": "Order Completed",
         "properties": {"revenue": 30}},
    )  # fmt: skip
    pipeline()
    later = profiles.new_records()

    # when the stream delivers the changes, then all of them again
    assert lake_profiles(later) == {"batchItemFailures": []}
    assert lake_profiles({"Records": first["Records"] + later["Records"]}) == {
        "batchItemFailures": []
    }
    assert lake_writer(events.new_records()) == {"batchItemFailures": []}

    # then one profile is left, with its traits, event count and every identity
    [person] = query(lake, "SELECT * FROM profiles")
    assert person["event_count"] == 5
    assert '"plan":"pro"' in person["traits"]
    identities = query(lake, "SELECT identity FROM identities ORDER BY identity")
    assert [row["identity"] for row in identities] == [
        "anonymous_id:lp-laptop",
        "anonymous_id:lp-phone",
        "email:lp1@example.com",
        "user_id:lp-1",
    ]
    # and events join to their person through the identities table
    revenue = query(
        lake,
        "SELECT p.profile_id, count(*) AS events, sum(e.revenue) AS revenue FROM events e"
        " JOIN identities i ON i.identity = e.identity"
        " JOIN profiles p ON p.profile_id = i.profile_id GROUP BY p.profile_id",
    )
    assert revenue == [{"profile_id": person["profile_id"], "events": 5, "revenue": 30.0}]

    # when the person is erased
    erased = privacy_api(http_event("DELETE", "/v1/profiles/user_id:lp-1", headers=bearer()))
    assert erased["statusCode"] == 200, erased["body"]
    pipeline()
    assert lake_profiles(profiles.new_records()) == {"batchItemFailures": []}

    # then neither table holds them
    assert query(lake, "SELECT * FROM profiles") == []
    assert query(lake, "SELECT * FROM identities") == []
