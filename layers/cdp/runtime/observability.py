"""Powertools Logger, Tracer and Metrics for a function, and the Lambda entry point of an
HTTP function, written once for all of them."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.tracing.base import BaseProvider, BaseSegment

if TYPE_CHECKING:
    import numbers
    import traceback

    from aws_lambda_powertools.event_handler.api_gateway import ApiGatewayResolver

NAMESPACE = "CDP"
LambdaHandler = Callable[[dict[str, Any], Any], dict[str, Any]]


def end_of_init() -> None:
    """The last line of every handler module (see `functions/__init__.py`): what the import
    made lives as long as the process, so it is left out of every later collection (which
    keeps warm invocations' full collections short too), and the collector is on again."""
    gc.freeze()
    gc.enable()


def powertools(service: str) -> tuple[Logger, Tracer, Metrics]:
    return (
        Logger(service=service),
        _tracer(service),
        Metrics(namespace=NAMESPACE, service=service),
    )


def _tracer(service: str) -> Tracer:
    """Where Powertools traces (in Lambda, unless POWERTOOLS_TRACE_DISABLED), the X-Ray SDK
    patches botocore, the one client library the functions use: by default it patches every
    library it supports, importing requests and sqlite3 to do so. Where it does not trace
    (tests, `cdp dev`), the X-Ray SDK is not loaded at all: outside Lambda its recorder builds
    a sampler with an X-Ray client of its own as it is imported, a fifth of a second."""
    if Tracer._is_tracer_disabled():
        return Tracer(service=service, disabled=True, provider=_NoTracing())
    return Tracer(service=service, patch_modules=("botocore",))


class _NoSegment(BaseSegment):
    def close(self, end_time: int | None = None) -> None:
        pass

    def add_subsegment(self, subsegment: Any) -> None:
        pass

    def remove_subsegment(self, subsegment: Any) -> None:
        pass

    def put_annotation(self, key: str, value: str | numbers.Number | bool) -> None:
        pass

    def put_metadata(self, key: str, value: Any, namespace: str = "default") -> None:
        pass

    def add_exception(
        self,
        exception: BaseException,
        stack: list[traceback.StackSummary],
        remote: bool = False,
    ) -> None:
        pass


class _NoTracing(BaseProvider):
    """The provider of a disabled Tracer: what the X-Ray SDK does when it is switched off
    (segments that record nothing), without the SDK."""

    @contextmanager
    def in_subsegment(self, name: str | None = None, **kwargs: Any) -> Iterator[BaseSegment]:
        yield _NoSegment()

    @asynccontextmanager
    async def in_subsegment_async(
        self, name: str | None = None, **kwargs: Any
    ) -> AsyncIterator[BaseSegment]:
        yield _NoSegment()

    def put_annotation(self, key: str, value: str | numbers.Number | bool) -> None:
        pass

    def put_metadata(self, key: str, value: Any, namespace: str = "default") -> None:
        pass

    def patch(self, modules: Sequence[str]) -> None:
        pass

    def patch_all(self) -> None:
        pass


def http_handler(
    app: Callable[[], ApiGatewayResolver], *, logger: Logger, tracer: Tracer, metrics: Metrics
) -> LambdaHandler:
    """The Lambda handler of an API function: correlation id from the request, a trace
    without the response (it can hold personal data), a request count, and the routes."""
    from aws_lambda_powertools.logging import correlation_paths
    from aws_lambda_powertools.metrics import MetricUnit

    @metrics.log_metrics
    @tracer.capture_lambda_handler(capture_response=False)
    @logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        metrics.add_metric("Requests", MetricUnit.Count, 1)
        return app().resolve(event, context)

    return handler


def task_queue_handler(
    record_handler: Callable[..., None], *, logger: Logger, tracer: Tracer, metrics: Metrics
) -> LambdaHandler:
    """The Lambda handler of a task queue's worker (SQS): each task by `record_handler`, the
    failed ones reported back to the queue to come again, a count of the tasks received. A
    `record_handler` that asks for `lambda_context` is given it (Powertools' batch rule)."""
    from aws_lambda_powertools.metrics import MetricUnit
    from aws_lambda_powertools.utilities.batch import (
        BatchProcessor,
        EventType,
        process_partial_response,
    )

    @metrics.log_metrics
    @tracer.capture_lambda_handler(capture_response=False)
    @logger.inject_lambda_context
    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        metrics.add_metric("RecordsReceived", MetricUnit.Count, len(event.get("Records", [])))
        answer = process_partial_response(
            event=event,
            record_handler=record_handler,
            processor=BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False),
            context=context,
        )
        return dict(answer)

    return handler
