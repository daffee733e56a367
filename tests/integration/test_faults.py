"""A stream handler that dies after its writes but before it answers: Lambda delivers the
same batch again, and nothing is counted twice."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from functions.profile_builder import handler as builder_module
from tests.factories import answer_json, basic_auth, http_event
from tests.integration.conftest import WRITE_KEY, TableStream, bearer

Handler = Callable[[dict[str, Any]], dict[str, Any]]


@pytest.mark.filterwarnings("ignore:No application metrics")  # the run that died had none
def test_a_builder_that_crashes_after_writing_is_redelivered_without_doubling(
    collector: Handler,
    profile_builder: Handler,
    profile_api: Handler,
    table_names: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    stream = TableStream(table_names["EVENTS_TABLE"])
    for number, revenue in enumerate((10.0, 20.5, 30.0)):
        body = {"userId": "u-crash", "event": "Order Completed", "messageId": f"o-{number}",
                "properties": {"revenue": revenue}}  # fmt: skip
        answer = collector(http_event(path="/v1/track", body=body, headers=basic_auth(WRITE_KEY)))
        assert answer["statusCode"] == 200
    batch = stream.new_records()

    def die(*_: Any, **__: Any) -> None:
        raise RuntimeError("the function ran out of time after writing")

    with monkeypatch.context() as patch:
        patch.setattr(builder_module.metrics, "add_metric", die)  # after the writes
        with pytest.raises(RuntimeError):
            profile_builder(batch)

    assert profile_builder(batch) == {"batchItemFailures": []}  # Lambda delivers it again

    profile = answer_json(
        profile_api(http_event("GET", "/v1/profiles/user_id:u-crash", headers=bearer()))
    )
    assert profile["event_count"] == 3
    assert profile["computed"]["orders"] == 3
    assert profile["computed"]["revenue"] == 60.5
