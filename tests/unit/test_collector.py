from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest

from cdp.access.keys import ApiKey, hash_key
from cdp.intake.collector import collect
from cdp.intake.messages import Intake
from cdp.runtime.errors import AuthenticationError, InvalidRequestError
from cdp.runtime.jsontext import parse_json

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
WRITE_KEY = "wk_test"
KEYS = {
    hash_key(WRITE_KEY): ApiKey(hash_key(WRITE_KEY), "write", "website"),
    hash_key("sk_test"): ApiKey(hash_key("sk_test"), "secret", "admin"),
}


@dataclass
class RecordingSaver:
    """Records what the collector asks to store (the real store is tested against moto)."""

    saved: list[tuple[Intake, str]] = field(default_factory=list)

    def save(self, intake: Intake, *, source: str, received_at: datetime, request_id: str) -> None:
        self.saved.append((intake, source))


def run(
    body: Any,
    kind: str = "batch",
    header_key: str | None = None,
    saver: RecordingSaver | None = None,
):
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return collect(
        raw,
        kind,
        header_key=header_key,
        find_key=KEYS.get,
        store=saver or RecordingSaver(),
        received_at=NOW,
        request_id="r-1",
    )


def test_write_key_in_the_body_is_accepted() -> None:
    saver = RecordingSaver()
    result = run({"writeKey": WRITE_KEY, "userId": "u", "event": "x"}, "track", saver=saver)
    assert result.answer() == {"success": True}
    [(intake, source)] = saver.saved
    assert source == "website"
    assert intake.events[0].source == "website"


def test_write_key_in_the_header_is_accepted() -> None:
    result = run({"userId": "u", "event": "x"}, "track", header_key=WRITE_KEY)
    assert result.accepted == 1


@pytest.mark.parametrize(
    ("body", "header_key", "message"),
    [
        ({"userId": "u", "event": "x"}, None, "this route needs a write key"),
        ({"writeKey": "wk_nope", "userId": "u", "event": "x"}, None, "the key is not valid"),
        ({"writeKey": 12, "userId": "u", "event": "x"}, None, "this route needs a write key"),
        ({"userId": "u", "event": "x"}, "sk_test", "not a secret key"),
        ({"userId": "u", "event": "x"}, "wk\x00", "the key is not valid"),
    ],
)
def test_requests_without_a_valid_write_key_are_refused(
    body: Any, header_key: str | None, message: str
) -> None:
    saver = RecordingSaver()
    with pytest.raises(AuthenticationError, match=message):
        run(body, "track", header_key=header_key, saver=saver)
    assert saver.saved == []


def test_a_body_that_is_not_json_is_quarantined_when_the_sender_is_known() -> None:
    saver = RecordingSaver()
    with pytest.raises(InvalidRequestError, match="not valid JSON"):
        run(b"{'single': 'quotes'}", header_key=WRITE_KEY, saver=saver)
    [(intake, source)] = saver.saved
    assert source == "website"
    assert intake.events == []
    assert intake.rejections[0].payload == "{'single': 'quotes'}"
    assert "not valid JSON" in intake.rejections[0].reason


def test_an_unknown_sender_gets_nothing_stored() -> None:
    saver = RecordingSaver()
    with pytest.raises(InvalidRequestError):
        run(b"not json", saver=saver)
    assert saver.saved == []


def test_a_malformed_batch_from_a_known_sender_is_quarantined_whole() -> None:
    saver = RecordingSaver()
    with pytest.raises(InvalidRequestError, match="'batch' list"):
        run({"writeKey": WRITE_KEY, "batch": {"not": "a list"}}, saver=saver)
    assert saver.saved[0][0].rejections[0].payload == {
        "writeKey": WRITE_KEY,
        "batch": {"not": "a list"},
    }


def test_partly_valid_batch_answers_which_messages_failed() -> None:
    saver = RecordingSaver()
    body = {
        "writeKey": WRITE_KEY,
        "batch": [
            {"type": "track", "userId": "u", "event": "ok"},
            {"type": "track", "userId": "u", "messageId": "m-2"},
        ],
    }
    result = run(body, saver=saver)
    assert result.answer() == {
        "success": True,
        "accepted": 1,
        "rejected": [{"index": 1, "messageId": "m-2", "reason": "event: is required"}],
    }
    intake = saver.saved[0][0]
    assert len(intake.events) == 1
    assert len(intake.rejections) == 1


def test_all_invalid_is_a_400_but_still_quarantined() -> None:
    saver = RecordingSaver()
    with pytest.raises(InvalidRequestError) as raised:
        run({"writeKey": WRITE_KEY, "userId": "u"}, "track", saver=saver)
    assert raised.value.message == "event: is required"
    assert raised.value.details == [{"reason": "event: is required"}]
    assert len(saver.saved[0][0].rejections) == 1


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"", "the body is empty"),
        (b"   ", "the body is empty"),
        (b"\xff\xfe", "not valid UTF-8"),
        (b'{"a": NaN}', "NaN is not a JSON number"),
        (b'{"a": Infinity}', "Infinity is not a JSON number"),
        (b'{"a": 1', "not valid JSON"),
        (b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
    ],
)
def test_parse_json_refuses_what_is_not_strict_json(body: bytes, message: str) -> None:
    with pytest.raises(InvalidRequestError, match=message):
        parse_json(body)
