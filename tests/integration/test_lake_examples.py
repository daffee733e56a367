"""The README's example queries (*Querying your data*) run on a lake the platform wrote, and
answer what they say they answer: three shoppers sent through the collector, the profile
builder and both lake writers, then every `sql` block of the section asked with `cdp sql`'s
local engine."""

from __future__ import annotations

import re
from datetime import timedelta
from itertools import pairwise
from pathlib import Path
from typing import Any

from cdp.runtime import clock
from tests.factories import answer_json, basic_auth, http_event
from tests.integration.conftest import WRITE_KEY, Handler, TableStream, bearer
from workbench.cli.sql import as_records, local_query

README = Path(__file__).parents[2] / "README.md"
PRO = {"id": "pro", "name": "On the pro plan", "condition": {"trait": "plan", "eq": "pro"}}


def examples() -> dict[str, str]:
    """The section's SQL blocks, each by the paragraph just before it (a block holds no blank
    line)."""
    section = README.read_text().split("## Querying your data", 1)[1].split("\n## ", 1)[0]
    chunks = [chunk.strip() for chunk in re.split(r"\n\s*\n", section)]
    return {
        prose: chunk.removeprefix("```sql").removesuffix("```")
        for prose, chunk in pairwise(chunks)
        if chunk.startswith("```sql")
    }


def shoppers(now: Any) -> list[dict[str, Any]]:
    """Ada came from the newsletter, signed up, granted marketing and ordered twice; Bob came
    from an ad, looked and said no; Cy looked, added, granted marketing and withdrew it a week
    later."""

    def at(days: float) -> str:
        return clock.iso(now - timedelta(days=days))

    def consent(granted: bool, days: float, **who: str) -> dict[str, Any]:
        preferences = {"categoryPreferences": {"marketing": granted}}
        return {"type": "track", "event": "Consent Updated", "timestamp": at(days), **who,
                "context": {"consent": preferences}}  # fmt: skip

    return [
        {"type": "page", "anonymousId": "ada-phone", "name": "Home", "timestamp": at(20),
         "context": {"campaign": {"source": "newsletter"}}},
        {"type": "identify", "anonymousId": "ada-phone", "userId": "ada", "timestamp": at(19),
         "traits": {"plan": "pro", "email": "ada@example.com"}},
        consent(True, 19, userId="ada"),
        {"type": "track", "userId": "ada", "event": "Product Viewed", "timestamp": at(18)},
        {"type": "track", "userId": "ada", "event": "Product Added", "timestamp": at(18)},
        {"type": "track", "userId": "ada", "event": "Order Completed", "timestamp": at(18),
         "properties": {"revenue": 40, "currency": "EUR"}},
        {"type": "track", "userId": "ada", "event": "Order Completed", "timestamp": at(2),
         "properties": {"revenue": 15, "currency": "EUR"}},
        {"type": "page", "anonymousId": "bob-laptop", "name": "Home", "timestamp": at(12),
         "context": {"campaign": {"source": "ads"}}},
        {"type": "track", "anonymousId": "bob-laptop", "event": "Product Viewed",
         "timestamp": at(12)},
        consent(False, 12, anonymousId="bob-laptop"),
        {"type": "identify", "userId": "cy", "timestamp": at(10), "traits": {"plan": "free"}},
        {"type": "track", "userId": "cy", "event": "Product Viewed", "timestamp": at(10)},
        {"type": "track", "userId": "cy", "event": "Product Added", "timestamp": at(10)},
        consent(True, 10, userId="cy"),
        consent(False, 1, userId="cy"),  # (9 days later: another week)
    ]  # fmt: skip


def test_the_readmes_example_queries_answer_what_they_say(
    collector: Handler,
    admin_api: Handler,
    pipeline: Any,
    lake_writer: Handler,
    lake_profiles: Handler,
    lake: Path,
    table_names: dict[str, str],
) -> None:
    events = TableStream(table_names["EVENTS_TABLE"])
    profiles = TableStream(table_names["PROFILES_TABLE"])
    defined = admin_api(http_event("PUT", "/v1/segments/pro", body=PRO, headers=bearer()))
    assert defined["statusCode"] in (200, 201), defined["body"]
    sent = collector(
        http_event(
            path="/v1/batch",
            body={"batch": shoppers(clock.utc_now())},
            headers=basic_auth(WRITE_KEY),
        )
    )
    assert answer_json(sent) == {"success": True}
    pipeline()
    assert lake_writer(events.new_records()) == {"batchItemFailures": []}
    assert lake_profiles(profiles.new_records()) == {"batchItemFailures": []}

    queries = examples()
    answers = {prose: as_records(local_query(str(lake), sql)) for prose, sql in queries.items()}

    def answer(start: str) -> list[dict[str, Any]]:
        [found] = [rows for prose, rows in answers.items() if prose.startswith(start)]
        return found

    assert answer("A funnel") == [{"viewed": 3, "added": 2, "ordered": 1}]
    assert answer("Revenue by first-touch") == [
        {"channel": "newsletter", "revenue": 55.0, "buyers": 1}
    ]
    weeks = answer("Consent rates by week")
    assert sum(row["people_deciding"] for row in weeks) == 4  # Ada, Bob, Cy twice
    assert sum(row["granted"] for row in weeks) == 2  # Ada, and Cy in the first week
    assert all(row["granted_share"] == row["granted"] / row["people_deciding"] for row in weeks)
    [pro] = answer("Segment sizes over time")
    assert (pro["segment"], pro["joined"], pro["members"]) == ("pro", 1, 1)  # Ada
    per_person = answer("Events join to people")
    assert sorted(row["events"] for row in per_person) == [3, 5, 7]
    assert sum(row["revenue"] or 0 for row in per_person) == 55.0
    assert len(queries) == 5, f"a new example needs its expected answer here: {list(queries)}"
