"""The background threads of `cdp dev`: stream and queue pollers, the bus tap, the scheduler."""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable


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
        while not self._stop.wait(self.pause):
            try:
                self.step()
            except Exception as error:
                self.log(f"  {self.label}: {error!r}")
                self._stop.wait(1.0)
