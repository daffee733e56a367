from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cdp.intake.messages import MAX_MESSAGE_BYTES, _corrected_timestamp, read_request
from cdp.runtime.clock import iso
from cdp.runtime.errors import InvalidRequestError, RequestTooLargeError

RECEIVED = datetime(2026, 11, 23, 9, 0, 0, tzinfo=UTC)


def read(body: Any, kind: str = "batch", received_at: datetime = RECEIVED):
    return read_request(body, kind, source="web", received_at=received_at)


def test_track_message_is_normalised_and_kept_in_full() -> None:
    # given a track message with fields the spec does not know
    body = {
        "userId": 42,
        "event": "Order Completed",
        "properties": {"revenue": 19.99, "nested": {"a": [1, 2]}},
        "context": {"ip": "192.0.2.1", "library": {"name": "analytics-python"}},
        "integrations": {"All": True},
        "messageId": "m-1",
        "timestamp": "2026-11-23T08:59:00.000Z",
        "writeKey": "wk_secret",
        "receivedAt": "1999-01-01T00:00:00Z",
        "custom": "kept",
    }

    # when
    intake = read(body, "track")

    # then
    assert intake.rejections == []
    [event] = intake.events
    assert event.identity == "user_id:42"
    assert event.type == "track"
    assert event.name == "Order Completed"
    assert event.message_id == "m-1"
    assert event.source == "web"
    message = event.message
    assert message["userId"] == "42"
    assert message["properties"] == {"revenue": 19.99, "nested": {"a": [1, 2]}}
    assert message["context"] == body["context"]
    assert message["integrations"] == {"All": True}
    assert message["custom"] == "kept"
    assert "writeKey" not in message
    assert message["receivedAt"] == "2026-11-23T09:00:00.000Z"
    assert message["originalTimestamp"] == "2026-11-23T08:59:00.000Z"
    assert message["timestamp"] == "2026-11-23T08:59:00.000Z"


def test_route_decides_the_type() -> None:
    intake = read({"type": "track", "anonymousId": "a", "name": "Home"}, "page")
    assert intake.events[0].type == "page"
    assert intake.events[0].name == "Home"
    assert intake.events[0].identity == "anonymous_id:a"


def test_missing_message_id_is_generated() -> None:
    intake = read({"anonymousId": "a"}, "identify")
    assert intake.events[0].message_id.startswith("cdp-")
    assert intake.events[0].message["messageId"] == intake.events[0].message_id


def test_missing_timestamp_means_the_arrival_time() -> None:
    event = read({"anonymousId": "a", "event": "x"}, "track").events[0]
    assert event.timestamp == iso(RECEIVED)
    assert "originalTimestamp" not in event.message


@pytest.mark.parametrize(
    ("body", "kind", "reason"),
    [
        ({"event": "x"}, "track", "a message needs a userId or an anonymousId"),
        ({"userId": "u"}, "track", "event: is required"),
        ({"userId": "u", "event": ""}, "track", "event: must have at least 1 character"),
        ({"anonymousId": "a"}, "group", "groupId: is required"),
        ({"userId": "u"}, "alias", "previousId: is required"),
        ({"previousId": "p", "anonymousId": "a"}, "alias", "userId: is required"),
        ({"userId": {"id": 1}}, "identify", "userId: must be text"),
        ({"userId": True}, "identify", "userId: must be text"),
        ({"userId": "a\u0000b"}, "identify", "userId: must not contain control characters"),
        ({"userId": "   "}, "identify", "userId: must not be blank"),
        ({"userId": "x" * 513}, "identify", "userId: must have at most 512 characters"),
        ({"userId": "u", "traits": []}, "identify", "traits: must be a JSON object"),
        ({"userId": "u", "timestamp": "yesterday"}, "identify", "timestamp: must be an ISO 8601"),
        ({"userId": "u", "timestamp": "1970-01-01T00:00:00Z"}, "identify", "timestamp: must be"),
        ({"userId": "u", "timestamp": "9999-01-01T00:00:00Z"}, "identify", "between 1990 and 2200"),
    ],
)
def test_invalid_messages_are_rejected_with_a_reason(body: Any, kind: str, reason: str) -> None:
    intake = read(body, kind)
    assert intake.events == []
    [rejection] = intake.rejections
    assert reason in rejection.reason
    assert rejection.payload == body


def test_batch_keeps_the_valid_and_rejects_the_invalid_with_their_position() -> None:
    body = {
        "batch": [
            {"type": "track", "userId": "u", "event": "A", "messageId": "ok-1"},
            {"type": "track", "userId": "u", "messageId": "bad-1"},
            "not an object",
            {"type": "unknown", "userId": "u"},
            {"type": "identify", "anonymousId": "a", "messageId": "ok-2"},
        ]
    }
    intake = read(body)
    assert [event.message_id for event in intake.events] == ["ok-1", "ok-2"]
    answers = [rejection.as_answer() for rejection in intake.rejections]
    assert answers == [
        {"index": 1, "messageId": "bad-1", "reason": "event: is required"},
        {"index": 2, "reason": "a message must be a JSON object"},
        {"index": 3, "reason": "type: must be one of identify, track, page, screen, group, alias"},
    ]


def test_batch_context_and_integrations_apply_to_every_message() -> None:
    body = {
        "context": {"library": {"name": "batch-lib"}, "locale": "nl-NL"},
        "integrations": {"All": False},
        "batch": [
            {"type": "track", "userId": "u", "event": "A"},
            {"type": "track", "userId": "u", "event": "B", "context": {"locale": "en-GB"}},
        ],
    }
    first, second = read(body).events
    assert first.message["context"] == {"library": {"name": "batch-lib"}, "locale": "nl-NL"}
    assert second.message["context"] == {"library": {"name": "batch-lib"}, "locale": "en-GB"}
    assert second.message["integrations"] == {"All": False}


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ([], "the request body must be a JSON object"),
        ({"batch": "x"}, "a batch request needs a 'batch' list of messages"),
        ({}, "a batch request needs a 'batch' list of messages"),
        ({"batch": []}, "the batch has no messages"),
    ],
)
def test_unreadable_batches_are_refused_whole(body: Any, message: str) -> None:
    with pytest.raises(InvalidRequestError, match=message):
        read(body)


def test_message_over_32_kb_is_refused() -> None:
    big = {"userId": "u", "event": "x", "properties": {"blob": "x" * MAX_MESSAGE_BYTES}}
    with pytest.raises(RequestTooLargeError, match="the limit is 32 KB"):
        read(big, "track")
    intake = read(
        {"batch": [{"type": "track", **big}, {"type": "track", "userId": "u", "event": "y"}]}
    )
    assert len(intake.events) == 1
    assert "the limit is 32 KB" in intake.rejections[0].reason


def test_skew_is_corrected_from_sent_at() -> None:
    # the device clock is 1 hour behind: it says the event happened 10 s before sending
    body = {
        "userId": "u",
        "event": "x",
        "timestamp": "2026-11-23T07:59:50Z",
        "sentAt": "2026-11-23T08:00:00Z",
    }
    event = read(body, "track").events[0]
    assert event.timestamp == "2026-11-23T08:59:50.000Z"
    assert event.message["originalTimestamp"] == "2026-11-23T07:59:50.000Z"
    assert event.message["sentAt"] == "2026-11-23T08:00:00.000Z"


def test_batch_sent_at_applies_to_its_messages() -> None:
    body = {
        "sentAt": "2026-11-23T10:00:00+01:00",
        "batch": [
            {"type": "track", "userId": "u", "event": "x", "timestamp": "2026-11-23T09:00:00+01:00"}
        ],
    }
    assert read(body).events[0].timestamp == "2026-11-23T08:00:00.000Z"


def test_future_timestamps_are_clamped_to_arrival() -> None:
    body = {"userId": "u", "event": "x", "timestamp": "2026-11-24T00:00:00Z"}
    assert read(body, "track").events[0].timestamp == iso(RECEIVED)


def test_naive_timestamps_are_taken_as_utc() -> None:
    body = {"userId": "u", "event": "x", "timestamp": "2026-11-23T08:00:00"}
    assert read(body, "track").events[0].timestamp == "2026-11-23T08:00:00.000Z"


moments = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
)
offsets = st.timedeltas(min_value=timedelta(days=-3), max_value=timedelta(days=3))


@given(timestamp=moments, delay=st.timedeltas(timedelta(0), timedelta(hours=6)), skew=offsets)
def test_skew_correction_recovers_the_true_time(
    timestamp: datetime, delay: timedelta, skew: timedelta
) -> None:
    # A device whose clock is off by `skew` records an event and sends it `delay` later;
    # the server receives it at the true sending time.
    received = timestamp + delay
    corrected = _corrected_timestamp(timestamp + skew, timestamp + skew + delay, received)
    assert corrected == timestamp


@given(timestamp=moments, sent=moments, received=moments)
def test_corrected_time_is_never_after_arrival(
    timestamp: datetime, sent: datetime, received: datetime
) -> None:
    assert _corrected_timestamp(timestamp, sent, received) <= received


@given(retry_delay=st.timedeltas(timedelta(0), timedelta(days=2)))
def test_a_retried_message_gets_the_same_storage_key(retry_delay: timedelta) -> None:
    # Clients retry with a new sentAt; the message itself (id, timestamp) is unchanged.
    message = {"userId": "u", "event": "x", "messageId": "m-1", "timestamp": "2026-11-23T08:00:00Z"}
    first = read({**message, "sentAt": "2026-11-23T08:00:01Z"}, "track").events[0]
    retry_sent = datetime(2026, 11, 23, 8, 0, 1, tzinfo=UTC) + retry_delay
    retried = read(
        {**message, "sentAt": retry_sent.isoformat()}, "track", received_at=RECEIVED + retry_delay
    ).events[0]
    assert (retried.identity, retried.message_id) == (first.identity, first.message_id)


time_fields = st.fixed_dictionaries(
    {},
    optional={
        "timestamp": moments.map(lambda m: m.isoformat()),
        "originalTimestamp": moments.map(lambda m: m.isoformat()),
        "sentAt": moments.map(lambda m: m.isoformat()),
    },
)


@given(
    first=time_fields, resend=time_fields, delay=st.timedeltas(timedelta(0), timedelta(days=400))
)
def test_a_resent_message_has_the_same_storage_key_whatever_its_times(
    first: dict[str, str], resend: dict[str, str], delay: timedelta
) -> None:
    # A client resends a message with the same messageId; it may fill in other times, or
    # none (RudderStack's server libraries send only originalTimestamp, hand-written clients
    # often nothing), and the resend may come much later.
    message = {"userId": "u", "event": "Order Completed", "messageId": "m-1"}
    stored = read({**message, **first}, "track").events[0]
    again = read({**message, **resend}, "track", received_at=RECEIVED + delay).events[0]
    assert (again.identity, again.message_id) == (stored.identity, stored.message_id)


def test_the_clients_original_timestamp_is_its_time_when_it_sends_no_timestamp() -> None:
    # RudderStack's libraries: originalTimestamp (the device's time) and sentAt
    message = {
        "anonymousId": "a",
        "event": "x",
        "originalTimestamp": "2026-11-23T08:00:00.000Z",
        "sentAt": "2026-11-23T08:00:10.000Z",
    }
    event = read(message, "track").events[0]
    assert event.message["originalTimestamp"] == "2026-11-23T08:00:00.000Z"
    # sent ten seconds after it happened, received at 09:00: it happened at 08:59:50
    assert event.timestamp == "2026-11-23T08:59:50.000Z"


def test_an_unreadable_original_timestamp_is_refused_with_a_reason() -> None:
    intake = read({"anonymousId": "a", "event": "x", "originalTimestamp": "soon"}, "track")
    assert "originalTimestamp: must be an ISO 8601" in intake.rejections[0].reason


@given(delay=st.timedeltas(timedelta(0), timedelta(days=30)))
def test_a_message_without_an_id_but_with_a_time_is_known_again_by_its_content(
    delay: timedelta,
) -> None:
    message = {"anonymousId": "a", "event": "x", "timestamp": "2026-11-23T08:00:00Z"}
    first = read({**message, "sentAt": "2026-11-23T08:00:01Z"}, "track").events[0]
    again = read(message, "track", received_at=RECEIVED + delay).events[0]
    other = read({**message, "event": "y"}, "track").events[0]
    assert first.message_id == again.message_id
    assert other.message_id != first.message_id


def test_a_message_without_an_id_or_a_time_is_a_new_event_each_time() -> None:
    # Two identical clicks are two events: with nothing to tell a resend from a repeat,
    # each message is kept.
    message = {"anonymousId": "a", "event": "Button Clicked"}
    assert (
        read(message, "track").events[0].message_id != read(message, "track").events[0].message_id
    )


# -- the plain reading of valid messages and the size from the stored text -------------

_IDENTIFIERS = st.one_of(
    st.none(),
    st.text(max_size=6),
    st.sampled_from(["u1", " x ", "undefined", "a\u2028b", "x" * 513, "é" * 480, "é" * 500]),
    st.integers(),
    st.floats(allow_nan=False),
    st.booleans(),
)
_TIMES = st.one_of(
    st.none(),
    st.builds(
        lambda moment, style: (
            moment.isoformat(timespec=style).replace("+00:00", "Z")
            if style != "auto"
            else moment.isoformat()
        ),
        st.datetimes(datetime(1900, 1, 1), datetime(2300, 1, 1), timezones=st.just(UTC)),
        st.sampled_from(["milliseconds", "seconds", "microseconds", "auto"]),
    ),
    st.sampled_from(["2026-02-30T00:00:00Z", "2026-11-12T09:40:37+02:00", "soon", ""]),
    st.integers(0, 2 * 10**12),
)
_OBJECTS = st.one_of(
    st.none(),
    st.text(max_size=2),
    st.dictionaries(
        st.sampled_from(["traits", "library", "cdp", "a"]),
        st.one_of(
            st.text(max_size=4),
            st.fixed_dictionaries(
                {}, optional={"email": st.sampled_from(["a@b.co", "x"]), "name": st.text()}
            ),
        ),
        max_size=3,
    ),
)
_MESSAGES = st.fixed_dictionaries(
    {"type": st.sampled_from(["identify", "track", "page", "screen", "group", "alias"])},
    optional={
        "messageId": _IDENTIFIERS,
        "userId": _IDENTIFIERS,
        "anonymousId": _IDENTIFIERS,
        "groupId": _IDENTIFIERS,
        "previousId": _IDENTIFIERS,
        "timestamp": _TIMES,
        "originalTimestamp": _TIMES,
        "sentAt": _TIMES,
        "context": _OBJECTS,
        "traits": _OBJECTS,
        "properties": _OBJECTS,
        "event": st.one_of(st.none(), st.text(max_size=4)),
        "name": st.one_of(st.none(), st.text(max_size=4), st.integers()),
        "writeKey": st.text(max_size=3),
        "receivedAt": _TIMES,
        "extra": st.one_of(st.floats(allow_nan=False), st.just(1e16), st.text(max_size=3)),
    },
)


@given(message=_MESSAGES)
def test_the_plain_reading_of_a_message_is_the_models(message: dict[str, Any]) -> None:
    from pydantic import ValidationError

    from cdp.intake.spec import MODELS, Fields, _plain_fields

    # when
    plain = _plain_fields(message, message["type"])

    # then: what it reads (if it can) is what the model reads
    try:
        model = Fields.of(MODELS[message["type"]].model_validate(message))
    except ValidationError:
        assert plain is None
    else:
        assert plain is None or plain == model


def test_a_plainly_valid_message_is_read_without_the_model() -> None:
    from cdp.intake.spec import _plain_fields

    message = {
        "type": "page",
        "anonymousId": "3877d5e1",
        "messageId": "m-1",
        "timestamp": "2026-11-12T09:40:37.271Z",
        "sentAt": "2026-11-12T09:40:38+00:00",
        "context": {"traits": {"email": "Ada@Example.com"}},
        "properties": {"path": "/"},
    }
    fields = _plain_fields(message, "page")
    assert fields is not None
    assert fields.email == "ada@example.com"
    assert fields.sentAt == datetime(2026, 11, 12, 9, 40, 38, tzinfo=UTC)


@given(
    batch=st.lists(_MESSAGES, min_size=1, max_size=3),
    shared=st.fixed_dictionaries({}, optional={"context": _OBJECTS, "sentAt": _TIMES}),
)
def test_the_stored_text_is_the_message_and_its_size_the_senders(
    batch: list[dict[str, Any]], shared: dict[str, Any]
) -> None:
    from cdp.intake.messages import _sent_size, _size
    from cdp.runtime.codec import dumps

    for event in read({**shared, "batch": batch}).events:
        assert event.index is not None
        assert event.text is not None
        assert event.text == dumps(event.message).encode()
        raw = batch[event.index]
        assert _sent_size(raw, event.message, len(event.text)) == _size(raw)


@given(
    message=st.sampled_from(
        [
            {"type": "track", "event": "Signed Up", "anonymousId": "a-1"},
            {"type": "identify", "userId": "u-1", "traits": {"email": "ada@example.com"}},
            {"type": "page", "anonymousId": "a-1", "timestamp": "2026-11-23T08:00:00Z"},
        ]
    ),
    # what the collector removes or rewrites, sent in characters of every JSON width
    changed=st.fixed_dictionaries(
        {},
        optional={
            name: st.text(
                st.sampled_from(["\x1f", '"', "a", "é", "€", "𝄞"]), min_size=60, max_size=600
            )
            for name in ("writeKey", "receivedAt")
        },
    ),
)
def test_the_quick_bound_of_a_messages_size_is_never_below_it(
    message: dict[str, Any], changed: dict[str, str]
) -> None:
    from cdp.intake.messages import _sent_size_bound, _size

    raw = {**message, **changed}
    for event in read({"batch": [raw]}).events:
        assert event.text is not None
        bound = _sent_size_bound(raw, event.message, len(event.text))
        assert bound is None or bound >= _size(raw)


@pytest.mark.parametrize(
    "extra",
    [{}, {"type": "unknown"}, {"userId": "undefined"}, {"writeKey": "k" * 300}, {"userId": 42}],
)
def test_a_message_over_the_limit_is_refused_for_its_size_whatever_else_it_is(
    extra: dict[str, Any],
) -> None:
    for size in range(MAX_MESSAGE_BYTES - 400, MAX_MESSAGE_BYTES + 100, 37):
        message = {"type": "track", "anonymousId": "a", "event": "x", "blob": "é" * (size // 2)}
        message |= extra
        intake = read({"batch": [message], "sentAt": "2026-11-23T08:00:00Z"})
        big = len(json.dumps(message, separators=(",", ":"), ensure_ascii=False).encode())
        reasons = [rejection.reason for rejection in intake.rejections]
        if big > MAX_MESSAGE_BYTES:
            assert reasons == [f"the message is {big / 1024:.1f} KB; the limit is 32 KB"]
        else:
            assert all("the limit is 32 KB" not in reason for reason in reasons)


def test_an_event_body_is_compressed_with_the_message_dictionary_and_reads_back() -> None:
    from cdp.runtime.codec import MESSAGE_DICTIONARY_1, ZSTD_MESSAGE_1, compress, decompress
    from cdp.storage.events import event_item

    # given a browser page view as a tracker sends it
    body = {
        "type": "page",
        "anonymousId": "3877d5e1-26f4-4cc2-8187-9d482095d9f6",
        "messageId": "54fb51b1-a860-4008-92ed-909798156f39",
        "timestamp": "2026-11-23T08:59:00.000Z",
        "context": {
            "library": {"name": "analytics.js", "version": "5.2.0"},
            "page": {
                "path": "/help",
                "referrer": "",
                "title": "Help",
                "url": "https://a.test/help",
            },
            "userAgent": "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 "
            "(KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
            "locale": "nl-NL",
        },
        "properties": {"path": "/help", "title": "Help", "url": "https://a.test/help"},
    }
    [event] = read(body, "page").events

    # when it is stored
    stored = event_item(event, expires_at=0)["body"]["B"]

    # then it reads back as the message, in far fewer bytes than without the dictionary, and
    # about as many as deflate with the same dictionary takes
    assert stored[0] == ZSTD_MESSAGE_1
    assert decompress(stored) == event.message
    assert len(stored) < len(compress(event.message)) * 0.75
    assert len(stored) <= len(compress(event.message, MESSAGE_DICTIONARY_1)) * 1.1
    # and bodies written before, as zlib streams, read the same
    assert decompress(compress(event.message)) == event.message
    assert decompress(compress(event.message, MESSAGE_DICTIONARY_1)) == event.message


@pytest.mark.parametrize("extension", ["0", 7, ["x"], None, {"note": "kept"}])
def test_a_placeholder_id_beside_any_cdp_extension_is_ignored_not_a_crash(extension: Any) -> None:
    body = {"type": "identify", "userId": "undefined", "anonymousId": "a-1", "messageId": "m-1",
            "context": {"cdp": extension}}  # fmt: skip

    intake = read(body, "identify")

    [event] = intake.events
    assert event.message["userId"] == "undefined"
    cdp = event.message["context"]["cdp"]
    assert cdp["ignored_identities"] == ["user_id:undefined"]
    if isinstance(extension, dict):
        assert cdp["note"] == "kept"
