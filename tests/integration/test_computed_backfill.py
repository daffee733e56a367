"""A new computed trait counts the past too: the events received before it counted come from
the data lake (`cdp.profiles.past`), those after from the builder, each event once, through
the deployed handlers on moto and a local lake: collector, builder, lake writer, admin API and
the computed_backfill worker."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest

from cdp.runtime import clock
from tests.factories import answer_json, basic_auth, http_event
from tests.integration.conftest import SECRET_KEY, WRITE_KEY, TableStream, bearer
from workbench.local.invocation import LambdaContext

Handler = Callable[[dict[str, Any]], dict[str, Any]]
SPEND = {"id": "spend", "type": "sum", "event": "Order Completed", "property": "revenue",
         "windows": [30]}  # fmt: skip
ORDERS = {"id": "orders_placed", "type": "count", "event": "Order Completed"}
BIG_SPENDERS = {"id": "big", "name": "Big spenders", "condition": {"computed": "spend", "gte": 50}}
LAKE_SETTLE = timedelta(minutes=6)  # the default: the lake's writer has committed by then
SETTLE = timedelta(minutes=7)


@pytest.fixture
def computed_backfill(
    lake: Path, queues: dict[str, str], table_names: dict[str, str]
) -> Iterator[Callable[[], int]]:
    """Runs the computed_backfill worker on every task in its queue; answers how many ran."""
    from functions.computed_backfill import handler

    caches = (handler._settings, handler._dependencies, handler._catalog)
    for cache in caches:
        cache.cache_clear()
    sqs = boto3.client("sqs")
    url = queues["COMPUTED_BACKFILL_QUEUE_URL"]

    def run() -> int:
        ran = 0
        while messages := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages"):
            records = [
                {"messageId": m["MessageId"], "body": m["Body"], "eventSource": "aws:sqs",
                 "receiptHandle": m["ReceiptHandle"], "attributes": {}, "messageAttributes": {}}
                for m in messages
            ]  # fmt: skip
            answer = handler.handler({"Records": records}, LambdaContext())
            assert answer == {"batchItemFailures": []}
            for message in messages:
                sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
            ran += len(messages)
        return ran

    yield run
    for cache in caches:
        cache.cache_clear()


class Shop:
    """The collector's messages through the builder and the lake's writer, as the stream
    hands them over; the admin and Profile APIs; the backfill's worker."""

    def __init__(
        self, handlers: dict[str, Handler], events_table: str, backfill: Callable[[], int]
    ):
        self.handlers = handlers
        self.stream = TableStream(events_table)
        self.backfill = backfill

    def send(self, *messages: dict[str, Any]) -> None:
        body = {"batch": list(messages)}
        answer = self.handlers["collector"](
            http_event(path="/v1/batch", body=body, headers=basic_auth(WRITE_KEY))
        )
        assert answer_json(answer) == {"success": True}
        records = self.stream.new_records()
        assert self.handlers["builder"](records) == {"batchItemFailures": []}
        assert self.handlers["lake_writer"](records) == {"batchItemFailures": []}

    def admin(self, method: str, path: str, body: Any = None) -> dict[str, Any]:
        return self.call("admin", method, path, body)

    def profile(self, identity: str) -> dict[str, Any]:
        return self.call("profiles", "GET", f"/v1/profiles/{identity}")

    def computed(self, identity: str, trait: str) -> Any:
        return self.profile(identity)["computed"][trait]

    def call(self, api: str, method: str, path: str, body: Any = None) -> dict[str, Any]:
        answer = self.handlers[api](http_event(method, path, body=body, headers=bearer()))
        assert answer["statusCode"] in (200, 202), answer["body"]
        found: dict[str, Any] = answer_json(answer)
        return found


@pytest.fixture
def shop(
    collector: Handler,
    profile_builder: Handler,
    lake_writer: Handler,
    admin_api: Handler,
    profile_api: Handler,
    privacy_api: Handler,
    computed_backfill: Callable[[], int],
    table_names: dict[str, str],
) -> Shop:
    handlers = {
        "collector": collector,
        "builder": profile_builder,
        "lake_writer": lake_writer,
        "admin": admin_api,
        "profiles": profile_api,
        "privacy": privacy_api,
    }
    return Shop(handlers, table_names["EVENTS_TABLE"], computed_backfill)


def order(message_id: str, revenue: float, **who: str) -> dict[str, Any]:
    return {"type": "track", "event": "Order Completed", "messageId": message_id,
            "properties": {"revenue": revenue}, **who}  # fmt: skip


def test_a_new_trait_counts_the_past_from_the_lake_and_every_event_once(shop: Shop) -> None:
    # given people who ordered before the traits existed: ada signed in, bo only as a
    # visitor so far (and under his user id once), and an order resent by a client
    shop.send(
        {"type": "identify", "userId": "ada", "anonymousId": "a-1", "messageId": "i-ada"},
        order("o-1", 10, userId="ada"),
        order("o-2", 20.5, anonymousId="a-1"),
        order("o-3", 5, anonymousId="b-1"),
        order("o-4", 7, userId="bo"),
    )
    shop.send(order("o-1", 10, userId="ada"))  # a resend: stored once

    # when the traits and a segment over one are defined
    spend = shop.admin("PUT", "/v1/computed-traits/spend", SPEND)
    shop.admin("PUT", "/v1/computed-traits/orders_placed", ORDERS)
    shop.admin("PUT", "/v1/segments/big", BIG_SPENDERS)
    assert clock.parse(spend["counts_from"]) > clock.utc_now()
    # and orders keep coming, from when they count: ada's, and bo signing in on his
    # visitor's device (his two profiles merge) with an order of the old one resent
    clock.advance(timedelta(seconds=6))
    shop.send(order("o-5", 30, userId="ada"))
    shop.send(
        {"type": "identify", "userId": "bo", "anonymousId": "b-1", "messageId": "i-bo"},
        order("o-6", 40, userId="bo"),
        order("o-3", 5, anonymousId="b-1"),
    )
    # then, before the backfill, only what came since counts
    assert shop.computed("user_id:ada", "spend") == 30
    status = shop.admin("GET", "/v1/computed-traits/spend/backfill")
    assert status["status"] == "waiting"
    assert clock.parse(status["starts_at"]) == clock.parse(spend["counts_from"]) + LAKE_SETTLE

    # when the lake has settled and the backfill runs
    clock.advance(SETTLE)
    assert shop.backfill() == 8  # both traits, four parts each

    # then each counts every order once: the past from the lake, the rest as it arrived
    ada = shop.profile("user_id:ada")
    assert (ada["computed"]["spend"], ada["computed"]["orders_placed"]) == (60.5, 3)
    assert ada["computed"]["spend_30d"] == 60.5
    bo = shop.profile("user_id:bo")
    assert (bo["computed"]["spend"], bo["computed"]["orders_placed"]) == (52, 3)
    # and the segment over the trait took them in with the same write
    assert ada["segments"] == bo["segments"] == ["big"]
    done = shop.admin("GET", "/v1/computed-traits/spend/backfill")
    assert (done["status"], done["parts_done"], done["parts"]) == ("done", 4, 4)
    assert done["identities"] == 4  # user_id:ada, anonymous_id:a-1, anonymous_id:b-1, user_id:bo

    # when it is run again (and a task redelivered): nothing is added twice
    again = shop.admin("POST", "/v1/computed-traits/spend/backfill")
    assert again["counts_from"] == spend["counts_from"]
    assert shop.backfill() == 4
    assert shop.computed("user_id:ada", "spend") == 60.5
    assert shop.computed("user_id:bo", "spend") == 52


def test_a_changed_rule_counts_anew_and_its_backfill_counts_the_whole_past(shop: Shop) -> None:
    first = shop.admin("PUT", "/v1/computed-traits/spend", SPEND)
    clock.advance(timedelta(seconds=6))
    shop.send(order("o-1", 10, userId="cy"), {**order("o-2", 99, userId="cy"), "event": "Refund"})
    clock.advance(SETTLE)
    shop.backfill()
    assert shop.computed("user_id:cy", "spend") == 10

    # when only its description changes: the count stands, no backfill starts
    described = shop.admin("PUT", "/v1/computed-traits/spend", {**SPEND, "description": "€"})
    assert described["counts_from"] == first["counts_from"]
    assert shop.backfill() == 0
    # when what it counts changes: it counts anew, and the backfill brings the whole past
    refunds = {**SPEND, "event": "Refund"}
    changed = shop.admin("PUT", "/v1/computed-traits/spend", refunds)
    assert changed["counts_from"] > first["counts_from"]
    assert shop.computed("user_id:cy", "spend") == 0  # not the old sum
    clock.advance(SETTLE)
    assert shop.backfill() == 4
    assert shop.computed("user_id:cy", "spend") == 99


def test_a_trait_with_no_past_to_add_says_why(admin_api: Handler, queues: dict[str, str]) -> None:
    for trait_id, reason in (
        ("page_views", "counted every event since the platform started"),
        ("days_since_last_seen", "worked out from other values"),
    ):
        answer = admin_api(
            http_event("POST", f"/v1/computed-traits/{trait_id}/backfill", headers=bearer())
        )
        assert answer["statusCode"] == 400
        assert reason in answer_json(answer)["message"]
    unknown = admin_api(http_event("POST", "/v1/computed-traits/nope/backfill", headers=bearer()))
    assert unknown["statusCode"] == 404
    never = admin_api(
        http_event("GET", "/v1/computed-traits/page_views/backfill", headers=bearer())
    )
    assert never["statusCode"] == 404
    assert "no backfill of page_views" in answer_json(never)["message"]


def test_a_task_that_comes_before_the_lake_holds_the_past_waits_in_the_queue(
    shop: Shop, queues: dict[str, str]
) -> None:
    shop.admin("PUT", "/v1/computed-traits/orders_placed", ORDERS)
    # when its tasks come at once
    assert shop.backfill() == 4
    # then each went back to the queue, delayed until the lake holds the past, and none ran
    url = queues["COMPUTED_BACKFILL_QUEUE_URL"]
    attributes = boto3.client("sqs").get_queue_attributes(
        QueueUrl=url, AttributeNames=["ApproximateNumberOfMessagesDelayed"]
    )["Attributes"]
    assert attributes["ApproximateNumberOfMessagesDelayed"] == "4"
    status = shop.admin("GET", "/v1/computed-traits/orders_placed/backfill")
    assert (status["status"], status["parts_done"]) == ("waiting", 0)


def test_cdp_computed_backfill_shows_the_progress_until_done(
    shop: Shop,
    admin_api_url: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from workbench import cli

    shop.admin("PUT", "/v1/computed-traits/orders_placed", ORDERS)
    command = ["computed", "backfill", "orders_placed", "--url", admin_api_url]
    command += ["--secret-key", SECRET_KEY]
    # asked not to wait: it says what it started, waiting for the lake
    assert cli.main([*command, "--no-wait", "--json"]) == 0
    started = json.loads(printed(capsys.readouterr().out))
    assert (started["trait_id"], started["status"]) == ("orders_placed", "waiting")
    # waiting: each pause of the command lets time pass and the worker run
    clock.advance(SETTLE)
    monkeypatch.setattr(cli.time, "sleep", lambda _: shop.backfill())
    assert cli.main(command) == 0
    said = capsys.readouterr()
    assert "counts the events received from" in said.err
    assert "reading the lake: 0 of 4 parts done" in said.err
    assert "status       done" in printed(said.out)


def printed(out: str) -> str:
    """What the command printed, less the metrics the handlers (in this process) print."""
    return "\n".join(line for line in out.splitlines() if not line.startswith('{"_aws"'))


def test_after_an_unmerge_each_side_gets_its_own_past_back(shop: Shop) -> None:
    # given a visitor's device that ada signed in on by mistake, both with orders before
    shop.send(order("o-1", 10, userId="ada"), order("o-2", 25, anonymousId="shared"))
    shop.send({"type": "identify", "userId": "ada", "anonymousId": "shared", "messageId": "i"})
    shop.admin("PUT", "/v1/computed-traits/orders_placed", ORDERS)
    clock.advance(SETTLE)
    shop.send(order("o-3", 5, anonymousId="shared"))  # counted as it arrives
    shop.backfill()
    assert shop.computed("user_id:ada", "orders_placed") == 3

    # when the device is split out again
    split = {"identities": ["anonymous_id:shared"]}
    shop.call("privacy", "POST", "/v1/profiles/user_id:ada/unmerge", split)
    # then both are built from the events table (what arrived since counts_from) and their
    # pasts come back from the lake: each counts its own orders, once
    assert shop.backfill() == 1  # one task: the two people's identities
    assert shop.computed("user_id:ada", "orders_placed") == 1
    assert shop.computed("anonymous_id:shared", "orders_placed") == 2
    assert shop.backfill() == 0


def test_cdp_computed_apply_says_when_a_trait_counts_anew(
    shop: Shop, admin_api_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from workbench import cli

    file = tmp_path / "orders.json"

    def apply(definition: dict[str, Any]) -> str:
        file.write_text(json.dumps(definition))
        command = ["computed", "apply", str(file), "--url", admin_api_url]
        assert cli.main([*command, "--secret-key", SECRET_KEY]) == 0
        return printed(capsys.readouterr().out)

    # a new trait: it says from when it counts, and where the rest comes from
    assert "cdp computed backfill orders_placed follows it" in apply(ORDERS)
    # a new description only: the count stands, nothing is said of it
    described = apply({**ORDERS, "description": "Orders placed"})
    assert "~ computed trait orders_placed" in described
    assert "counts the events received" not in described
    # a new rule: it counts anew
    assert "counts the events received from" in apply({**ORDERS, "event": "Order Placed"})
