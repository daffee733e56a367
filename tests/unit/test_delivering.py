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
RESERVED = "first_visit"  # an audience name the fake tool does not take


class FakeTool:
    """Takes additions and erasures (not traits); an erasure is one call per audience; the
    answers are scripted per call."""

    name = "fake"
    title = "Fake"
    settings = ConnectorSettings
    hashes_identifiers = False
    kinds: frozenset[DeliveryKind] = frozenset({"audience_add", "erase"})

    def __init__(self, answers: list[list[Outcome]]) -> None:
        self.answers = answers
        self.calls = 0
        self.now: str | None = None

    def requests(
        self,
        deliveries: Sequence[Delivery],
        settings: ConnectorSettings,
        secret: str,
        base_url: str | None = None,
        *,
        now: str | None = None,
    ) -> list[Request]:
        self.now = now
        found = []
        for position, delivery in enumerate(deliveries):
            if not delivery.identifiers.any() or delivery.audience == RESERVED:
                continue
            calls = 2 if delivery.kind == "erase" else 1
            found += [Request("POST", "https://tool.example/x", (position,))] * calls
        return found

    def outcomes(self, request: Request, response: Response) -> list[Outcome]:
        answer = self.answers[self.calls]
        self.calls += 1
        return answer


class ReasoningTool(FakeTool):
    """The fake tool, with its own words for some of what it does not take."""

    def skip_reason(self, delivery: Delivery) -> str | None:
        if delivery.kind == "traits":
            return "Fake keeps no traits"
        if delivery.kind == "erase" and "erase" not in self.kinds:
            return "Fake has no deletion call: delete the person in Fake"
        if delivery.audience == RESERVED:
            return f"Fake reserves the name {RESERVED}"
        return None


def delivery(
    kind: DeliveryKind, who: Identifiers = ADA, number: int = 1, audience: str = "Fans"
) -> Delivery:
    return Delivery(
        id=f"d{number}", destination="tool", kind=kind, profile_id=f"p{number}",
        identifiers=who, at=NOW, audience=audience if kind == "audience_add" else None,
    )  # fmt: skip


DESTINATION = DestinationDefinition(
    id="tool", name="Tool", connector="webhook", purpose="marketing"
)


def run(
    monkeypatch: pytest.MonkeyPatch,
    deliveries: list[Delivery],
    answers: list[list[Outcome]],
    destination: DestinationDefinition | None = DESTINATION,
    tool_type: type[FakeTool] = FakeTool,
) -> tuple[delivering.Attempt, Tally, FakeTool]:
    tool = tool_type(answers)
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


def test_the_tools_own_reasons_for_skipping_come_first(monkeypatch: pytest.MonkeyPatch) -> None:
    deliveries = [
        delivery("traits"),  # a kind it takes not, with its reason
        delivery("audience_add", number=2, audience=RESERVED),  # carried by no call, likewise
        delivery("audience_add", NOBODY, 3),  # carried by no call, no reason of its own
        delivery("event", number=4),  # a kind it takes not, no reason of its own
        delivery("audience_add", number=5),
    ]
    tool = ReasoningTool([[Outcome.delivered()]])
    found = delivering._outcomes(
        tool, deliveries, settings=ConnectorSettings(), secret=lambda: "key",
        send=lambda request: Response(200, {}, b"{}"), base_url=None, now_iso=NOW,
    )  # fmt: skip
    assert found == [
        Outcome("skipped", "Fake keeps no traits"),
        Outcome("skipped", f"Fake reserves the name {RESERVED}"),
        Outcome("skipped", "no identifier Fake matches people by"),
        Outcome("skipped", "Fake has no call for it"),
        Outcome.delivered(),
    ]
    assert tool.now == NOW  # the deliverer's clock, for calls that say when they are made


def test_an_erasure_the_tool_has_no_call_for_is_written_down_with_its_reason(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    class NoDeletion(ReasoningTool):
        kinds: frozenset[DeliveryKind] = frozenset({"audience_add"})

    _, tally, _ = run(monkeypatch, [delivery("erase")], [], tool_type=NoDeletion)
    [erasure] = tally.erasures
    assert (erasure["call"], erasure["outcome"]) == ("none", "skipped")
    assert erasure["message"] == "Fake has no deletion call: delete the person in Fake"


def test_a_deleted_destination_hears_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    deliveries = [delivery("audience_add"), delivery("erase", number=2)]
    _, tally, tool = run(monkeypatch, deliveries, [], None)
    assert tool.calls == 0
    assert tally.counts["skipped"] == 2
    assert [e["outcome"] for e in tally.erasures] == ["skipped"]


def test_a_paused_destination_hears_only_erasures(monkeypatch: pytest.MonkeyPatch) -> None:
    paused = DESTINATION.model_copy(update={"enabled": False})
    deliveries = [delivery("audience_add"), delivery("erase", number=2)]
    answers = [[Outcome.delivered()], [Outcome.delivered()]]  # the erasure's two calls
    _, tally, tool = run(monkeypatch, deliveries, answers, paused)
    assert tool.calls == 2
    assert tally.counts["skipped"] == 1
    assert tally.counts["delivered"] == 1
    assert [e["outcome"] for e in tally.erasures] == ["delivered"]


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
