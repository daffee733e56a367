"""Segment member lists with the identifiers asked for, on moto through the deployed handlers:
as JSON and as CSV a page at a time, read with one BatchGetItem per page, masked for a viewer,
written down in the audit log when given whole, and refused clearly when asked wrongly."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from typing import Any

import pytest

from cdp.storage import clients
from tests.factories import answer_json, basic_auth, http_event
from tests.integration.conftest import WRITE_KEY, bearer
from tests.integration.test_console_api import audit_entries, claims

Handler = Callable[[dict[str, Any]], dict[str, Any]]

PROS = {"id": "pros", "name": "On the pro plan", "condition": {"trait": "plan", "eq": "pro"}}
PEOPLE = 5


def person(n: int) -> dict[str, Any]:
    return {
        "type": "identify",
        "userId": f"u{n}",
        "messageId": f"m-{n}",
        "traits": {"plan": "pro", "email": f"person{n}@example.com"},
        "context": {"externalIds": [{"id": f"+31 6 1234 000{n}", "type": "phone"}]},
    }


@pytest.fixture
def pros(admin_api: Handler, collector: Handler, pipeline: Callable[[], None]) -> None:
    """Five people on the pro plan, each with a user id, an e-mail address and a phone number;
    the last also signs up with a second address later, and a user id a spreadsheet would run."""
    answer = admin_api(http_event("PUT", "/v1/segments/pros", body=PROS, headers=bearer()))
    assert answer["statusCode"] == 200, answer["body"]
    batch = [person(n) for n in range(PEOPLE)]
    batch.append({"type": "identify", "userId": "u4", "messageId": "m-later",
                  "timestamp": "2099-01-01T00:00:00Z",
                  "traits": {"email": "second@example.com"}})  # fmt: skip
    answer = collector(
        http_event(path="/v1/batch", body={"batch": batch}, headers=basic_auth(WRITE_KEY))
    )
    assert answer["statusCode"] == 200, answer["body"]
    pipeline()


def get(api: Handler, path: str, role: str | None = None, **query: str) -> dict[str, Any]:
    """A GET with the secret key, or as a console user of `role`."""
    if role:
        return api(http_event("GET", path, query=query, claims=claims(role)))
    return api(http_event("GET", path, query=query, headers=bearer()))


def by_user(members: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {m["identifiers"]["user_id"][0]: m for m in members}


def test_each_member_comes_with_the_identifiers_asked_for(pros: None, admin_api: Handler) -> None:
    # when a server asks for e-mail addresses, user ids, phone numbers and a type nobody has
    answer = get(admin_api, "/v1/segments/pros/members", identifiers="email, user_id,phone,crm_id")

    # then every member has each type, with every value, the most recently linked first
    assert answer["statusCode"] == 200, answer["body"]
    page = answer_json(answer)
    assert (page["cursor"], page["masked"]) == (None, False)
    members = by_user(page["members"])
    assert sorted(members) == [f"u{n}" for n in range(PEOPLE)]
    assert members["u1"]["identifiers"] == {
        "email": ["person1@example.com"],
        "user_id": ["u1"],
        "phone": ["+31 6 1234 0001"],
        "crm_id": [],
    }
    assert members["u4"]["identifiers"]["email"] == ["second@example.com", "person4@example.com"]


def test_without_identifiers_the_list_is_as_before(pros: None, admin_api: Handler) -> None:
    page = answer_json(get(admin_api, "/v1/segments/pros/members", limit="2"))

    assert len(page["members"]) == 2
    assert all(m["identifiers"] is None for m in page["members"])
    assert set(page["members"][0]) == {"profile_id", "entered_at", "identifiers"}
    assert page["cursor"] == page["members"][-1]["profile_id"]


def test_the_csv_comes_a_page_at_a_time_with_the_cursor_in_a_header(
    pros: None, admin_api: Handler
) -> None:
    rows: list[list[str]] = []
    cursor = None
    pages = 0
    while True:
        # when the CSV is read two members a page, following the cursor
        query = {"identifiers": "email,user_id,phone", "limit": "2"}
        if cursor:
            query["cursor"] = cursor
        answer = get(admin_api, "/v1/segments/pros/members.csv", **query)
        assert answer["statusCode"] == 200, answer["body"]
        assert answer["headers"]["Content-Type"] == "text/csv; charset=utf-8"
        assert answer["headers"]["Content-Disposition"] == 'attachment; filename="pros.csv"'
        assert answer["body"].endswith("\r\n")
        header, *page = list(csv.reader(io.StringIO(answer["body"])))
        # then each page starts with the header row
        assert header == ["profile_id", "entered_at", "email", "user_id", "phone"]
        rows += page
        pages += 1
        cursor = answer["headers"].get("X-Next-Cursor")
        if cursor is None:
            break

    # and together the pages hold every member once, one value a cell (the newest)
    assert pages == 3
    assert len({row[0] for row in rows}) == PEOPLE
    found = {row[3]: row for row in rows}
    assert found["u2"][2:] == ["person2@example.com", "u2", "+31 6 1234 0002"]
    assert found["u4"][2] == "second@example.com"


def test_a_page_reads_its_profiles_in_one_batch_never_a_scan(
    pros: None, admin_api: Handler
) -> None:
    # given a record of what the admin API asks DynamoDB
    calls: list[tuple[str, dict[str, Any]]] = []
    get(admin_api, "/v1/segments")  # the client is made
    clients.dynamodb().meta.events.register(
        "provide-client-params.dynamodb.*",
        lambda params, model, **_: calls.append((model.name, params)),
    )

    answer = get(admin_api, "/v1/segments/pros/members", identifiers="email")

    # then the page's five profiles come in one BatchGetItem, projected, and nothing is scanned
    assert answer["statusCode"] == 200
    operations = [name for name, _ in calls]
    assert "Scan" not in operations
    [batch] = [params for name, params in calls if name == "BatchGetItem"]
    [wanted] = batch["RequestItems"].values()
    assert len(wanted["Keys"]) == PEOPLE
    assert wanted["ProjectionExpression"] == "profile_id, version, #state"
    assert wanted["ConsistentRead"] is False

    # and a list without identifiers reads no profile at all
    calls.clear()
    get(admin_api, "/v1/segments/pros/members")
    assert "BatchGetItem" not in [name for name, _ in calls]


def test_a_member_whose_profile_is_gone_has_no_identifiers(
    pros: None, admin_api: Handler, dynamodb: Any, table_names: dict[str, str]
) -> None:
    # given a member whose profile item is gone (erased; the index follows soon after)
    page = answer_json(get(admin_api, "/v1/segments/pros/members", identifiers="email"))
    gone = page["members"][0]["profile_id"]
    dynamodb.delete_item(TableName=table_names["PROFILES_TABLE"], Key={"profile_id": {"S": gone}})

    page = answer_json(get(admin_api, "/v1/segments/pros/members", identifiers="email"))

    [member] = [m for m in page["members"] if m["profile_id"] == gone]
    assert member["identifiers"] == {"email": []}


def test_a_viewer_sees_identifiers_masked_and_an_editor_whole_written_down(
    pros: None, admin_api: Handler, console: Handler
) -> None:
    # when a viewer reads the list with identifiers in the console
    path = "/console/api/segments/pros/members"
    answer = get(admin_api, path, "viewer", identifiers="email,phone")

    # then the answer says so and shows no one: identifiers keep only their shape
    assert answer["statusCode"] == 200, answer["body"]
    page = answer_json(answer)
    assert page["masked"] is True
    emails = {value for m in page["members"] for value in m["identifiers"]["email"]}
    phones = {value for m in page["members"] for value in m["identifiers"]["phone"]}
    assert emails == {"p•••@e•••.com", "s•••@e•••.com"}
    assert phones == {"•••0", "•••1", "•••2", "•••3", "•••4"}
    csv_answer = get(admin_api, path + ".csv", "viewer", identifiers="email")
    assert csv_answer["headers"]["X-Masked"] == "true"
    assert "person" not in csv_answer["body"]
    assert audit_entries(console) == []  # a masked list shows no one

    # when an editor (who may see people's data) and a server read it
    editor = answer_json(get(admin_api, path, "editor", identifiers="email,phone"))
    server = get(admin_api, "/v1/segments/pros/members.csv", identifiers="email")

    # then they get identifiers whole, and each page is written down: who, which segment, what
    assert editor["masked"] is False
    assert "person0@example.com" in str(editor)
    assert "person0@example.com" in server["body"]
    entries = audit_entries(console)
    assert [(e["actor"], e["action"], e["segment_id"], e["asked_for"]) for e in entries] == [
        ("secret key of operator", "export_members", "pros", "email"),
        ("editor@shop.example", "export_members", "pros", "email,phone"),
    ]
    assert all(e["profile_id"] is None for e in entries)


@pytest.mark.parametrize(
    "identifiers",
    [
        "",
        " , ",
        "Email",
        "e-mail",
        "email;user_id",
        "e mail",
        "x" * 65,
        "9phone",
        "profile_id",
        "émail",
        "email,\x00",
        ",".join(f"type_{n}" for n in range(11)),
        "email" * 201,  # over 1,000 characters
    ],
)
@pytest.mark.parametrize("path", ["/v1/segments/pros/members", "/v1/segments/pros/members.csv"])
def test_identity_types_that_are_none_are_a_400_that_says_so(
    admin_api: Handler, path: str, identifiers: str
) -> None:
    answer = admin_api(
        http_event("GET", path, query={"identifiers": identifiers}, headers=bearer())
    )

    assert answer["statusCode"] == 400, answer["body"]
    body = answer_json(answer)
    assert body["code"] == "invalid_request"
    assert body["message"].startswith("identifiers")


def test_an_unknown_segment_is_a_404_as_csv_too(admin_api: Handler) -> None:
    for path in ("/v1/segments/nobody/members", "/v1/segments/nobody/members.csv"):
        answer = get(admin_api, path, identifiers="email")
        assert answer["statusCode"] == 404
        assert answer_json(answer)["message"] == "no segment is called nobody"
