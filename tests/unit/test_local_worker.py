"""`cdp dev`'s workers make way for requests: a worker's AWS call waits while a function
answers a request, for at most YIELD_SECONDS; a request's own calls never wait."""

from __future__ import annotations

import threading
import time

import pytest
from botocore.hooks import HierarchicalEmitter

from workbench.local import worker
from workbench.local.worker import Requests, Worker


class Caller(Worker):
    """A worker that makes one AWS call (as far as the emitter knows) and notes when."""

    def __init__(self, events: HierarchicalEmitter) -> None:
        super().__init__("caller", label="caller")
        self.events = events
        self.sent: list[float] = []
        self.done = threading.Event()

    def step(self) -> None:
        if not self.done.is_set():
            self.events.emit("before-send.dynamodb.GetItem", request=None)
            self.sent.append(time.monotonic())
            self.done.set()


def test_a_workers_call_waits_for_the_request_being_answered(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(worker, "YIELD_SECONDS", 30)
    requests, events = Requests(), HierarchicalEmitter()
    requests.give_way(events)
    caller = Caller(events)
    with requests.answering():
        caller.start()
        assert not caller.done.wait(0.2)  # held back while the request is answered
        ended = time.monotonic()
    assert caller.done.wait(1)
    caller.stop()
    assert caller.sent[0] >= ended


def test_a_workers_call_waits_no_longer_than_the_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(worker, "YIELD_SECONDS", 0.2)
    requests, events = Requests(), HierarchicalEmitter()
    requests.give_way(events)
    caller = Caller(events)
    with requests.answering():  # a request that lasts: background work still goes on
        started = time.monotonic()
        caller.start()
        assert caller.done.wait(2)
    caller.stop()
    assert 0.15 <= caller.sent[0] - started < 1.5


def test_a_requests_own_calls_do_not_wait() -> None:
    requests, events = Requests(), HierarchicalEmitter()
    requests.give_way(events)
    with requests.answering():
        started = time.monotonic()
        events.emit("before-send.dynamodb.GetItem", request=None)
        assert time.monotonic() - started < 0.1
