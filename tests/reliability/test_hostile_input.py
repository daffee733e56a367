"""Hostile and malformed input on every public route: named cases (invalid JSON, wrong types,
huge and deeply nested payloads, gzip bombs, invalid UTF-8, control characters and long
strings in identifiers, prototype-pollution keys, spoofed `receivedAt`, far-off times,
duplicate keys, broken credentials and headers) and Hypothesis-generated changes, each applied
to a request the route accepts.

Every answer must be below 500, free of stack traces and internal detail, and, when it
refuses, a JSON message a person can read; a refused request stores nothing outside the
quarantine, and the collector keeps what a known sender had refused there. What was accepted
then goes through the profile builder and the publisher without a failed record."""

from __future__ import annotations

import hashlib
import json
import pickle
import re
import zlib
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings

from cdp.intake.messages import MAX_REQUEST_BYTES
from tests.reliability.conftest import INTERNAL_DETAIL, Answer, Stack, basic
from tests.reliability.hostile import NAMED, Hostile, generated
from tests.reliability.routes import BY_FUNCTION, BY_KEY, Call, Raw, Route, send

GENERATED_EXAMPLES = 40


def check(stack: Stack, route: Route, call: Call, hostile: Hostile) -> list[str]:
    """Send `call`; answer what is wrong with how it was handled (nothing, ideally)."""
    before, fingerprint = stack.counts(), stack.fingerprint()
    answer = send(stack, route, call)
    where = f"{route.key} <- {hostile.label!r}: {answer.status}"
    problems = []
    text = answer.body.decode("utf-8", errors="replace")
    if answer.status >= 500:
        problems.append(f"{where} {text[:300]}")
    # (the scripts' large bodies are not searched: they name such things, and are no answers)
    leak = not _script(route) and (
        INTERNAL_DETAIL.search(text) or INTERNAL_DETAIL.search(json.dumps(answer.headers))
    )
    if leak:
        problems.append(f"{where} shows {leak.group(0)!r}: {text[:300]}")
    if answer.status >= 400 and answer.routed:
        problems += [f"{where} {p}" for p in _refusal_problems(answer)]
    if answer.status >= 300:
        after = stack.counts()
        changed = {t for t in after if after[t] != before[t] and t != "QUARANTINE_TABLE"}
        if changed or stack.fingerprint() != fingerprint:
            problems.append(f"{where} was refused but changed {sorted(changed) or 'definitions'}")
    if route.function == "collector" and route.credential == "write":
        problems += [f"{where} {p}" for p in _kept(stack, call, answer, before)]
    if stack.counts()["EVENTS_TABLE"] > before["EVENTS_TABLE"]:
        stack.pipeline.run()  # a poison message that was accepted fails here
    return problems


def _script(route: Route) -> bool:
    """The tracker's and the console's code and the OpenAPI document name things: they are
    not answers."""
    return route.template.endswith((".js", "openapi.json")) or route.template.startswith(
        ("/v1/static/", "/console/assets/")
    )


def _refusal_problems(answer: Answer) -> list[str]:
    try:
        body = answer.json()
    except ValueError:
        return [f"is not JSON: {answer.body[:200]!r}"]
    message = body.get("message") if isinstance(body, dict) else None
    if not isinstance(message, str) or not re.search("[a-z]{2}", message[:80]):
        return [f"has no readable message: {answer.body[:300]!r}"]
    if body.get("success") is not False or not body.get("code"):
        return [f"lacks success/code: {answer.body[:200]!r}"]
    return []


def _kept(stack: Stack, call: Call, answer: Answer, before: dict[str, int]) -> list[str]:
    """What a known sender had refused is in the quarantine, with the reason."""
    if call.auth != "valid":
        return []
    if answer.status == 400 and _readable(call):
        kept = stack.quarantined(answer.request_id)
        if not kept or not all(item["reason"]["S"] for item in kept):
            return [f"refused {answer.body[:200]!r} but kept nothing in the quarantine"]
    if answer.status == 200:
        body = answer.json()
        grown = stack.counts()["EVENTS_TABLE"] - before["EVENTS_TABLE"]
        if grown > body.get("accepted", _messages(call)):
            return [f"accepted {body.get('accepted', _messages(call))} but stored {grown} events"]
        if body.get("rejected") and not stack.quarantined(answer.request_id):
            return [f"refused part of {answer.body[:200]!r} but kept nothing"]
    return []


def _messages(call: Call) -> int:
    body = call.body
    if isinstance(body, Raw):
        try:
            body = json.loads(body.data)
        except ValueError:
            return 0
    batch = body.get("batch") if isinstance(body, dict) else None
    return len(batch) if isinstance(batch, list) else 1


def _readable(call: Call) -> bool:
    """Whether the collector can undo the body's encoding at all. One it cannot (an unknown
    Content-Encoding, broken gzip) is refused without a quarantine entry: there is no text to
    keep. README, *Answers*."""
    encoding = call.headers.get("content-encoding", "gzip" if call.gzip else "").lower()
    if encoding in ("", "identity") or call.gzip:
        return True
    if encoding not in ("gzip", "x-gzip") or not isinstance(call.body, Raw):
        return False
    inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    try:
        inflater.decompress(call.body.data, MAX_REQUEST_BYTES + 1)
    except zlib.error:
        return False
    return inflater.eof


@pytest.mark.parametrize("function", list(BY_FUNCTION))
def test_named_hostile_cases(stack: Stack, function: str) -> None:
    problems: list[str] = []
    sent: set[bytes] = set()
    for hostile in NAMED:
        for route in BY_FUNCTION[function]:
            call = hostile.apply(route.sample)
            # A case that changes nothing a route reads (a body on a GET, say) makes the
            # request another case made: sent once (a third of the admin API's 17,430).
            request = hashlib.sha256(pickle.dumps(call)).digest()
            if request not in sent:
                sent.add(request)
                problems += check(stack, route, call, hostile)
    assert not problems, f"{len(problems)} problems:\n" + "\n".join(problems[:40])


@pytest.mark.parametrize("function", list(BY_FUNCTION))
@settings(
    max_examples=GENERATED_EXAMPLES,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
)
@given(hostile=generated())
def test_generated_hostile_input(stack: Stack, function: str, hostile: Hostile) -> None:
    for route in BY_FUNCTION[function]:
        problems = check(stack, route, hostile.apply(route.sample), hostile)
        assert not problems, "\n".join(problems)


# -- what is stored from hostile input that was accepted -----------------------------------


def stored(stack: Stack) -> list[dict[str, Any]]:
    from cdp.runtime.codec import decompress

    return [decompress(item["body"]["B"]) for item in stack.items("EVENTS_TABLE")]


def track(stack: Stack, body: dict[str, Any] | Raw, path: str = "/v1/track") -> Answer:
    route = BY_KEY[f"POST {path}"]
    return send(stack, route, Call("POST", path, body=body))


def test_receivedat_is_always_the_servers(stack: Stack) -> None:
    before = datetime.now(UTC)
    single = {"userId": "spoof-1", "event": "X", "receivedAt": "2000-01-01T00:00:00Z",
              "originalTimestamp": "2000-01-01T00:00:00Z"}  # fmt: skip
    batch = {"batch": [{**single, "type": "track", "userId": "spoof-2"}],
             "receivedAt": "2000-01-01T00:00:00Z"}  # fmt: skip
    assert track(stack, single).status == 200
    assert track(stack, batch, "/v1/batch").status == 200
    spoofed = [m for m in stored(stack) if m["userId"] in ("spoof-1", "spoof-2")]
    assert len(spoofed) == 2
    for found in spoofed:
        arrived = datetime.fromisoformat(found["receivedAt"].replace("Z", "+00:00"))
        assert before - timedelta(seconds=1) <= arrived <= datetime.now(UTC)
        # originalTimestamp is the client's own time (RudderStack's libraries send only it)
        assert found["originalTimestamp"] == "2000-01-01T00:00:00.000Z"


@pytest.mark.parametrize(
    ("timestamp", "sent_at", "expected"),
    [
        ("1990-01-01T00:00:00Z", None, "1990-01-01T00:00:00.000Z"),
        ("2199-12-31T23:59:59Z", None, "now"),  # the future is clamped to the arrival
        ("1990-01-01T00:00:00Z", "2199-12-31T23:59:59Z", "before 1990"),
        ("2199-12-31T23:59:59Z", "1990-01-01T00:00:00Z", "now"),
    ],
)
def test_far_off_times_are_stored_as_the_readme_says(
    stack: Stack, timestamp: str, sent_at: str | None, expected: str
) -> None:
    body = {"userId": "times-1", "event": "X", "timestamp": timestamp, "messageId": "t-1"}
    if sent_at:
        body["sentAt"] = sent_at
    assert track(stack, body).status == 200
    (found,) = [m for m in stored(stack) if m.get("userId") == "times-1"]
    when = datetime.fromisoformat(found["timestamp"].replace("Z", "+00:00"))
    if expected == "now":
        assert abs(when - datetime.now(UTC)) < timedelta(seconds=5)
    elif expected == "before 1990":
        assert when.year < 1990  # skew-corrected: the client's clock was 210 years fast
    else:
        assert found["timestamp"] == expected
    assert found["originalTimestamp"].startswith(timestamp[:19])
    stack.pipeline.run()


@pytest.mark.parametrize("stamp", ["1989-12-31T23:59:59Z", "2200-01-01T00:00:00Z", "0001-01-01"])
def test_times_outside_the_range_are_refused_and_kept(stack: Stack, stamp: str) -> None:
    answer = track(stack, {"userId": "times-2", "event": "X", "timestamp": stamp})
    assert answer.status == 400
    assert "timestamp" in answer.json()["message"]
    (kept,) = stack.quarantined(answer.request_id)
    assert stamp in kept["payload"]["S"]


def test_duplicate_keys_count_once_and_the_last_wins(stack: Stack) -> None:
    text = b'{"userId": "first", "event": "X", "userId": "last", "messageId": "dup-1"}'
    assert track(stack, Raw(text)).status == 200
    assert [m["userId"] for m in stored(stack) if m.get("messageId") == "dup-1"] == ["last"]
    # a second write key cannot sneak past the first: the last one is the one checked
    wrong_last = json.dumps({"userId": "x", "event": "X"})[:-1] + (
        f', "writeKey": "{stack.keys.write}", "writeKey": "wk_nobody"}}'
    )
    route = BY_KEY["POST /v1/track"]
    answer = send(stack, route, Call("POST", "/v1/track", body=Raw(wrong_last.encode()),
                                     auth="none"))  # fmt: skip
    assert answer.status == 401


def test_prototype_keys_are_kept_as_plain_data(stack: Stack) -> None:
    body = {"userId": "proto-1", "event": "X", "messageId": "proto-m",
            "properties": {"__proto__": {"admin": True}, "constructor": {"prototype": 1}},
            "context": {"__proto__": {"polluted": "yes"}},
            "__proto__": {"isAdmin": True}}  # fmt: skip
    assert track(stack, body).status == 200
    identify = {"userId": "proto-1", "traits": {"__proto__": "x", "constructor": "y", "plan": "a"}}
    assert track(stack, identify, "/v1/identify").status == 200
    (found,) = [m for m in stored(stack) if m.get("messageId") == "proto-m"]
    assert found["properties"]["__proto__"] == {"admin": True}
    assert found["__proto__"] == {"isAdmin": True}
    stack.pipeline.run()
    route = BY_KEY["GET /v1/profiles/{identity}"]
    profile = send(stack, route, route.sample.with_(params={"identity": "user_id:proto-1"}))
    assert profile.status == 200
    assert profile.json()["traits"] == {"__proto__": "x", "constructor": "y", "plan": "a"}


def test_a_gzip_bomb_costs_no_more_than_an_honest_request(stack: Stack) -> None:
    import tracemalloc

    from tests.reliability.hostile import gzip_bomb

    bomb = gzip_bomb(100)
    route = BY_KEY["POST /v1/batch"]
    call = Call("POST", "/v1/batch", body=Raw(bomb), headers={"content-encoding": "gzip"})
    tracemalloc.start()
    answer = send(stack, route, call)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert answer.status == 413
    assert peak < 10 * 1024 * 1024, f"inflating took {peak / 2**20:.0f} MB"


def test_a_refused_body_of_a_known_sender_is_kept_whole(stack: Stack) -> None:
    body = b'{"userId": "kept-1", "event": "X", "properties": {"note": "caf\xc3\xa9"'
    answer = track(stack, Raw(body))
    assert answer.status == 400
    (kept,) = stack.quarantined(answer.request_id)
    assert kept["payload"]["S"] == body.decode()
    assert kept["reason"]["S"] == answer.json()["message"]


def test_an_unknown_sender_leaves_nothing_behind(stack: Stack) -> None:
    before = stack.counts()
    route = BY_KEY["POST /v1/track"]
    for body in (Raw(b"not json"), {"userId": "u", "event": "X"}, Raw(b"\xff\xfe")):
        answer = send(stack, route, Call("POST", "/v1/track", body=body,
                                         auth=basic(stack.keys.wrong)))  # fmt: skip
        assert answer.status == 401
    assert stack.counts() == before


def test_the_fingerprint_sees_every_write(stack: Stack) -> None:
    """`check` reuses a table's digest until moto runs an operation that may write to it: a
    write from any client, in place or not, to any of the tables, must still change the
    fingerprint."""
    config, keys = stack.tables["CONFIG_TABLE"], stack.tables["KEYS_TABLE"]
    key = {"kind": {"S": "segment"}, "id": {"S": "parents"}}
    before = stack.fingerprint()
    stack.dynamodb.get_item(TableName=config, Key=key)
    assert stack.fingerprint() == before  # a read changes nothing
    stack.dynamodb.update_item(TableName=config, Key=key, UpdateExpression="SET touched = :t",
                               ExpressionAttributeValues={":t": {"BOOL": True}})  # fmt: skip
    touched = stack.fingerprint()
    assert touched != before
    stack.dynamodb.batch_write_item(RequestItems={keys: [
        {"PutRequest": {"Item": {"key_hash": {"S": "written-in-a-batch"}}}}]})  # fmt: skip
    batched = stack.fingerprint()
    assert batched != touched
    # in place, in another table than the last write's
    stack.dynamodb.update_item(TableName=keys, Key={"key_hash": {"S": "written-in-a-batch"}},
                               UpdateExpression="SET touched = :t",
                               ExpressionAttributeValues={":t": {"BOOL": True}})  # fmt: skip
    assert stack.fingerprint() != batched
