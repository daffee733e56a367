"""Powertools Logger, Tracer and Metrics for a function, and the Lambda entry point of an
HTTP function, written once for all of them."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger, Metrics, Tracer

if TYPE_CHECKING:
    from aws_lambda_powertools.event_handler.api_gateway import ApiGatewayResolver

NAMESPACE = "CDP"
LambdaHandler = Callable[[dict[str, Any], Any], dict[str, Any]]


def powertools(service: str) -> tuple[Logger, Tracer, Metrics]:
    return (
        Logger(service=service),
        Tracer(service=service),
        Metrics(namespace=NAMESPACE, service=service),
    )


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
