"""`cdp dev` answers a failure: a fixed route or a scheduled function that raises gets a 500
with a message (never a dropped connection), and one scheduled function's failure does not
keep the others from running."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from infra.wiring import FUNCTIONS, FunctionSpec
from workbench.local.dev import Scheduler
from workbench.local.gateway import Functions, make_server


@pytest.fixture
def served() -> Iterator[str]:
    def broken(_: bytes, __: str) -> tuple[int, dict[str, str], bytes]:
        raise KeyError("a stored value the message must not show")

    def fine(_: bytes, __: str) -> tuple[int, dict[str, str], bytes]:
        return 200, {"content-type": "text/plain"}, b"ok"

    routes = {("POST", "/_dev/broken"): broken, ("GET", "/health"): fine}
    server = make_server("127.0.0.1", 0, Functions(()), extra_routes=routes, log=lambda _: None)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_a_fixed_route_that_raises_is_answered_500_and_the_connection_lives_on(
    served: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with requests.Session() as session:
        answer = session.post(f"{served}/_dev/broken", timeout=10)
        assert answer.status_code == 500
        assert answer.json() == {"message": "Internal Server Error"}
        # The same kept-alive connection answers the next request.
        assert session.get(f"{served}/health", timeout=10).text == "ok"
    err = capsys.readouterr().err
    assert "/_dev/broken failed: KeyError" in err
    assert "must not show" not in err


class _Invoked:
    """Functions' `invoke` for the scheduler: records the calls, and raises for one function."""

    def __init__(self, failing: str) -> None:
        self.failing = failing
        self.called: list[str] = []

    def invoke(self, spec: FunctionSpec, event: dict[str, Any]) -> dict[str, Any]:
        self.called.append(spec.name)
        if spec.name == self.failing:
            raise RuntimeError("stored data")
        return {"ran": spec.name, "source": event["source"]}


def test_one_scheduled_function_failing_leaves_the_others_running(
    capsys: pytest.CaptureFixture[str],
) -> None:
    scheduled = [spec.name for spec in FUNCTIONS if spec.every_minutes]
    assert len(scheduled) >= 2
    failing = scheduled[0]
    invoked = _Invoked(failing)
    outcome, failed = Scheduler(invoked, 3600).run_now()  # type: ignore[arg-type]
    assert invoked.called == scheduled
    assert failed == [failing]
    assert outcome[failing] == {"error": "RuntimeError"}
    for name in scheduled[1:]:
        assert outcome[name] == {"ran": name, "source": "aws.scheduler"}
    err = capsys.readouterr().err
    assert f"scheduler: {failing} failed: RuntimeError" in err
    assert "stored data" not in err
