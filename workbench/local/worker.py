"""The background threads of `cdp dev`: stream and queue pollers, the bus tap, the scheduler."""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

# The longest a worker's AWS call waits for a gap between requests (`Requests`).
YIELD_SECONDS = 0.5
_thread = threading.local()  # `background`: this thread is a worker's


def to_stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


class Worker:
    """A daemon thread that runs `step` every `pause` seconds until stopped (with no pause when
    the step waits itself, as a long poll does). A step that raises is reported as
    `  <label>: <error>` and the next one comes a second later: the worker stays alive."""

    def __init__(
        self,
        name: str,
        *,
        label: str,
        pause: float = 0.0,
        log: Callable[[str], None] | None = None,
    ) -> None:
        self.label = label
        self.pause = pause
        self.log = log or to_stderr
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def step(self) -> None:
        raise NotImplementedError

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def wait(self, seconds: float) -> bool:
        """Sleep up to `seconds`; True when the worker is being stopped."""
        return self._stop.wait(seconds)

    def _run(self) -> None:
        _thread.background = True
        while not self._stop.wait(self.pause):
            try:
                self.step()
            except Exception as error:
                self.log(f"  {self.label}: {error!r}")
                self._stop.wait(1.0)


class Requests:
    """The requests functions are answering now, which background work makes way for.

    Everything in `cdp dev` runs in one interpreter, so a backlog in the streams (a profile
    built per event, each with its moto calls) takes its share of the one processor from the
    API: during a 100,000-row `cdp import` the stream runners, the publisher and the bus tap
    took about 60% of it, and the import ran at less than half its speed. In Lambda the
    functions do not share a processor. So each AWS call a worker makes (`give_way`) waits
    while a request is being answered, for at most YIELD_SECONDS, and goes on in the gaps
    between requests: background work is delayed, never stopped, and a backlog is worked off
    as soon as the API is quiet."""

    def __init__(self) -> None:
        self._answering = 0
        self._changed = threading.Condition()

    @contextmanager
    def answering(self) -> Iterator[None]:
        with self._changed:
            self._answering += 1
        try:
            yield
        finally:
            with self._changed:
                self._answering -= 1
                self._changed.notify_all()

    def wait_for_gap(self, timeout: float) -> None:
        with self._changed:
            self._changed.wait_for(lambda: not self._answering, timeout)

    def give_way(self, events: Any) -> None:
        """Workers' calls through clients made from now on by the session whose botocore
        event emitter is `events` wait for a gap between requests before they are sent."""

        def before_send(**_: Any) -> None:
            if getattr(_thread, "background", False):
                self.wait_for_gap(YIELD_SECONDS)

        events.register("before-send", before_send)
