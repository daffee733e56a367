"""Mobile and server analytics libraries, each request exactly as the library sends it.

One file per library in `tests/fixtures/libraries/`: the HTTP request it makes (method, path,
headers with its form of authentication, the body, gzipped where the library gzips), built
from the library's source (each file's `source` names the files), and how the library sends
the same batch again when the answer is lost (`resend`: the headers it adds, the `sentAt` it
stamps anew). Each batch holds what an app or a server sends around a sign-up: an anonymous
screen (a track from a server), an alias of the anonymous id to the user id, an identify with
traits where the library puts them, and a track with properties.

Each request goes through the collector's handler as deployed, on moto, twice; the stream then
runs through the profile builder. What a user expects: every message stored once, with the
client's own time, channel and library; one person, with the identify's traits, whose
timeline holds the anonymous events too.
"""

from __future__ import annotations

import copy
import gzip
import json
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from cdp.runtime.clock import iso
from cdp.runtime.codec import decompress
from infra.wiring import COLLECTOR
from tests.factories import answer_json, http_event
from tests.integration.conftest import bearer
from workbench.local.gateway import Functions

Handler = Callable[[dict[str, Any]], dict[str, Any]]

LIBRARIES = sorted((Path(__file__).parents[1] / "fixtures" / "libraries").glob("*.json"))


@dataclass(frozen=True)
class LibraryRequest:
    """A library's request, as its fixture file describes it."""

    name: str
    method: str
    path: str
    headers: dict[str, str]
    body: dict[str, Any]
    resend: dict[str, Any]

    @classmethod
    def load(cls, path: Path) -> LibraryRequest:
        fixture = json.loads(path.read_text(encoding="utf-8"))
        assert fixture.get("source"), f"{path.name}: say where the request was learnt from"
        return cls(
            name=path.stem,
            method=fixture["method"],
            path=fixture["path"],
            headers=fixture["headers"],
            body=fixture["body"],
            resend=fixture.get("resend", {}),
        )

    @property
    def messages(self) -> list[dict[str, Any]]:
        batch: list[dict[str, Any]] = self.body["batch"]
        return batch

    def first_send(self) -> dict[str, Any]:
        return self._event(self.headers, self.body)

    def second_send(self) -> dict[str, Any]:
        """The same batch again, as the library retries it: its retry headers added, and
        `sentAt` stamped anew wherever it stamps it at each attempt."""
        body = copy.deepcopy(self.body)
        sent_at = self.resend.get("sentAt")
        if sent_at is not None:
            for holder in (body, *body["batch"]):
                if "sentAt" in holder:
                    holder["sentAt"] = sent_at
        return self._event({**self.headers, **self.resend.get("headers", {})}, body)

    def _event(self, headers: dict[str, str], body: dict[str, Any]) -> dict[str, Any]:
        data = json.dumps(body, ensure_ascii=False).encode()
        lowered = {name.lower(): value for name, value in headers.items()}
        gzipped = lowered.get("content-encoding") == "gzip"
        route = route_of(self.method, self.path)
        return http_event(
            self.method,
            self.path,
            # API Gateway hands a binary (gzipped) body over base64-encoded, text as it is
            body=gzip.compress(data) if gzipped else data.decode(),
            headers=headers,
            route=route or "$default",
        )

    def context_of(self, message: dict[str, Any]) -> dict[str, Any]:
        """The message's context, over the batch's (server libraries send `library` there)."""
        return {**self.body.get("context", {}), **message.get("context", {})}

    @property
    def identify(self) -> dict[str, Any]:
        [identify] = [m for m in self.messages if m["type"] == "identify"]
        return identify

    def identify_traits(self) -> dict[str, Any]:
        """The traits the identify sets: `traits` over `context.traits` (RudderStack's
        libraries send them only in the context)."""
        in_context = self.context_of(self.identify).get("traits") or {}
        return {**in_context, **self.identify.get("traits", {})}


def route_of(method: str, path: str) -> str | None:
    """The route API Gateway (and `cdp dev`) would give this request, from the one list of
    routes; None where it answers 404 without calling the function."""
    found = Functions((COLLECTOR,)).match(method, path)
    return None if found is None else f"{method} {found[0].template}"


def present(value: Any) -> Any:
    """A value the client sent, or None: an empty string counts as not sent."""
    return None if value is None or value == "" else value


def as_stored_time(text: str) -> str:
    """The client's time as the collector writes times: the same instant, UTC, milliseconds."""
    return iso(datetime.fromisoformat(text.replace("Z", "+00:00")))


def library_label(library: Any) -> str | None:
    if not isinstance(library, dict) or not present(library.get("name")):
        return None
    version = present(library.get("version"))
    return f"{library['name']}/{version}" if version is not None else str(library["name"])


@pytest.fixture(params=LIBRARIES, ids=lambda path: path.stem)
def library(request: pytest.FixtureRequest) -> LibraryRequest:
    return LibraryRequest.load(request.param)


@dataclass
class Delivery:
    answers: list[dict[str, Any]]
    items: list[dict[str, Any]]  # the events table's items

    def stored(self) -> dict[str, tuple[dict[str, Any], dict[str, Any]]]:
        """messageId -> (item, stored message)."""
        return {item["sk"]["S"]: (item, decompress(item["body"]["B"])) for item in self.items}


@pytest.fixture
def delivered(
    library: LibraryRequest,
    collector: Handler,
    pipeline: Callable[[], None],
    dynamodb: Any,
    table_names: dict[str, str],
) -> Delivery:
    """The library's batch sent, its events built into profiles, then sent again (the
    library's answer was lost) and built again."""
    answers = []
    for send in (library.first_send, library.second_send):
        answers.append(collector(send()))
        pipeline()
    items = dynamodb.scan(TableName=table_names["EVENTS_TABLE"])["Items"]
    return Delivery(answers=answers, items=items)


def test_the_library_posts_to_a_route_of_the_api(library: LibraryRequest) -> None:
    assert route_of(library.method, library.path) is not None, (
        f"{library.name} posts to {library.method} {library.path}: no such route, so API "
        "Gateway answers 404 before the collector sees the batch"
    )


def test_both_sends_are_answered_200_and_each_message_is_stored_once(
    library: LibraryRequest, delivered: Delivery
) -> None:
    for answer in delivered.answers:
        assert answer["statusCode"] == 200, answer["body"]
    sent = [message["messageId"] for message in library.messages]
    stored = Counter(item["sk"]["S"] for item in delivered.items)
    refusals = [answer_json(answer).get("rejected") for answer in delivered.answers]
    assert stored == Counter(sent), f"stored {dict(stored)}; refused: {refusals}"


def test_each_event_keeps_the_clients_time_channel_and_library(
    library: LibraryRequest, delivered: Delivery
) -> None:
    stored = delivered.stored()
    for message in library.messages:
        assert message["messageId"] in stored, (
            f"{message['type']} {message['messageId']} was not stored: "
            f"{[answer['body'] for answer in delivered.answers]}"
        )
        item, kept = stored[message["messageId"]]
        client_time = message.get("timestamp") or message["originalTimestamp"]
        assert kept["originalTimestamp"] == as_stored_time(client_time), message["type"]

        # kept in the message as sent, and on the item for reading without the body
        library_sent = library.context_of(message).get("library")
        assert kept.get("channel") == message.get("channel")
        assert kept["context"].get("library") == library_sent
        channel = present(message.get("channel"))
        label = library_label(library_sent)
        assert item.get("channel") == (None if channel is None else {"S": channel})
        assert item.get("library") == (None if label is None else {"S": label})


def test_one_person_with_the_identify_traits_and_the_anonymous_events_too(
    library: LibraryRequest, delivered: Delivery, profile_api: Handler
) -> None:
    user_id = library.identify["userId"]
    person = profile(profile_api, f"user_id:{user_id}")
    expected = library.identify_traits()
    assert {name: person["traits"].get(name) for name in expected} == expected

    # every device or visitor id the library sent leads to the same person
    anonymous_ids = {m["anonymousId"] for m in library.messages if present(m.get("anonymousId"))}
    for anonymous_id in sorted(anonymous_ids):
        found = profile(profile_api, f"anonymous_id:{anonymous_id}")
        assert found["profile_id"] == person["profile_id"], anonymous_id

    # whose timeline holds every message once, the anonymous ones before identify included
    path = f"/v1/profiles/user_id:{user_id}/events"
    timeline = profile_api(http_event("GET", path, query={"limit": "100"}, headers=bearer()))
    assert timeline["statusCode"] == 200, timeline["body"]
    on_timeline = Counter(event["messageId"] for event in answer_json(timeline)["events"])
    assert on_timeline == Counter(m["messageId"] for m in library.messages)
    assert person["event_count"] == len(library.messages)


def profile(profile_api: Handler, identity: str) -> dict[str, Any]:
    answer = profile_api(http_event("GET", f"/v1/profiles/{identity}", headers=bearer()))
    assert answer["statusCode"] == 200, f"{identity}: {answer['body']}"
    found: dict[str, Any] = answer_json(answer)
    return found
