"""Delivering a message: each delivery counted once, at the worst of its calls' outcomes; a
retry brings the whole message back and counts nothing else; the tool's words kept without
the person's identifiers; paused and deleted destinations hear nothing."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from cdp.sharing import delivering
from cdp.sharing.connectors.base import (
    ConnectorSettings,
    Delivery,
    DeliveryKind,
    Identifiers,
    Outcome,
    Request,
    Response,
)
from cdp.sharing.destinations import DestinationDefinition
from cdp.storage.deliveries import Tally

NOW = "2026-11-28T12:00:00.000Z"
ADA = Identifiers(emails=("ada@example.com",), user_id="u-ada")
NOBODY = Identifiers()


class FakeTool:
    """Takes additions and erasures (not traits); an erasure is one call per audience; the
    answers are scripted per call."""

    name = "fake"
    title = "Fake"
    settings = ConnectorSettings
    hashes_identifiers = False
    kinds = frozenset({"audience_add", "erase"})

    def __init__(self, answers: list[list[Outcome]]) -> None:
        self.answers = answers
        self.calls = 0

    def requests(
        self,
        deliveries: Sequence[Delivery],
        settings: ConnectorSettings,
        secret: str,
        base_url: str | None = None,
    ) -> list[Request]:
        found = []
        for position, delivery in enumerate(deliveries):
            if not delivery.identifiers.any():
                continue
            calls = 2 if delivery.kind == "erase" else 1
            found += [Request("POST", "https://tool.example/x", (position,))] * calls
        return found

    def outcomes(self, request: Request, response: Response) -> list[Outcome]:
        answer = self.answers[self.calls]
        self.calls += 1
        return answer


def delivery(kind: DeliveryKind, who: Identifiers = ADA, number: int = 1) -> Delivery:
    return Delivery(
        id=f"d{number}", destination="tool", kind=kind, profile_id=f"p{number}",
        identifiers=who, at=NOW, audience="Fans" if kind == "audience_add" else None,
    )  # fmt: skip


DESTINATION = DestinationDefinition(
    id="tool", name="Tool", connector="webhook", purpose="marketing"
)


def run(
    monkeypatch: pytest.MonkeyPatch,
    deliveries: list[Delivery],
    answers: list[list[Outcome]],
    destination: DestinationDefinition | None = DESTINATION,
) -> tuple[delivering.Attempt, Tally, FakeTool]:
    tool = FakeTool(answers)
    monkeypatch.setattr(delivering, "connector", lambda name: tool)
    tally = Tally()
    attempt = delivering.deliver(
        deliveries,
        destination,
        secret=lambda: "key",
        send=lambda request: Response(200, {}, b"{}"),
        tally=tally,
        now_iso=NOW,
    )
    return attempt, tally, tool


def test_each_delivery_counts_once_at_the_worst_of_its_calls(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    refused = Outcome("failed", "ada@example.com: unknown in audience 2")
    attempt, tally, _ = run(
        monkeypatch,
        [delivery("erase")],
        [[Outcome.delivered()], [refused]],
    )
    assert attempt.retry_after is None
    assert tally.counts == {"delivered": 0, "retried": 0, "failed": 1, "skipped": 0}
    [error] = tally.errors
    assert "ada@example.com" not in error["message"]
    assert "unknown in audience 2" in error["message"]
    [erasure] = tally.erasures
    assert erasure["outcome"] == "failed"
    assert erasure["profile_id"] == "p1"


def test_a_retry_brings_the_message_back_and_counts_nothing_else(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    attempt, tally, tool = run(
        monkeypatch,
        [
            delivery("audience_add"),
            delivery("traits", number=2),
            delivery("audience_add", number=3),
        ],
        [[Outcome.delivered()], [Outcome("retry", "slow down", 30.0)]],
    )
    assert attempt.retry_after == 30.0
    assert tool.calls == 2  # nothing after the call the tool asked to wait on
    assert tally.counts == {"delivered": 0, "retried": 3, "failed": 0, "skipped": 0}
    assert tally.erasures == []


def test_what_the_tool_cannot_take_is_skipped_with_the_reason(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    attempt, tally, _ = run(
        monkeypatch,
        [delivery("traits"), delivery("audience_add", NOBODY, 2), delivery("erase", number=3)],
        [[Outcome.delivered()], [Outcome.delivered()]],
    )
    assert attempt.retry_after is None
    assert tally.counts == {"delivered": 1, "retried": 0, "failed": 0, "skipped": 2}


@pytest.mark.parametrize(
    "destination",
    [None, DESTINATION.model_copy(update={"enabled": False})],
    ids=["deleted", "paused"],
)
def test_a_deleted_or_paused_destination_hears_nothing(
    monkeypatch: pytest.MonkeyPatch, destination: DestinationDefinition | None
) -> None:
    _, tally, tool = run(
        monkeypatch, [delivery("audience_add"), delivery("erase", number=2)], [], destination
    )
    assert tool.calls == 0
    assert tally.counts["skipped"] == 2
    assert [e["outcome"] for e in tally.erasures] == ["skipped"]


def test_a_secret_the_tool_cannot_be_called_with_fails_the_deliveries_without_retrying(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def refuse(*args: object, **kwargs: object) -> list[Request]:
        raise ValueError("a key ends with its data centre")

    monkeypatch.setattr(FakeTool, "requests", refuse)
    attempt, tally, _ = run(monkeypatch, [delivery("audience_add")], [])
    assert attempt.retry_after is None
    assert tally.counts["failed"] == 1
    assert "data centre" in tally.errors[0]["message"]
