"""The functions' own metrics, read back from CloudWatch: what Powertools writes in the
embedded metric format (namespace `CDP`, one dimension: the function's service name)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from cdp.runtime.clock import iso
from cdp.runtime.observability import NAMESPACE


@dataclass(frozen=True)
class Series:
    metric: str
    service: str
    # (start of the period, sum), oldest first; a zero for every period without data
    points: list[tuple[str, float]]

    @property
    def total(self) -> float:
        return sum(value for _, value in self.points)


class MetricsReader:
    def __init__(self, client: Callable[[], Any]) -> None:
        # A factory: the CloudWatch client (its API description) is made on the first
        # overview, not on the first request of every route of the console.
        self.client = client

    def per_period(
        self,
        wanted: list[tuple[str, str]],
        *,
        now: datetime,
        periods: int,
        period: timedelta,
    ) -> list[Series]:
        """Sums of each (metric, service) per period over the last `periods` periods, in one
        request (GetMetricData takes up to 500 queries)."""
        seconds = int(period.total_seconds())
        # whole periods, the current one last
        end_epoch = (int(now.timestamp()) // seconds + 1) * seconds
        start_epoch = end_epoch - seconds * periods
        start = datetime.fromtimestamp(start_epoch, tz=UTC)
        end = datetime.fromtimestamp(end_epoch, tz=UTC)
        queries = [
            {
                "Id": f"m{number}",
                "MetricStat": {
                    "Metric": {
                        "Namespace": NAMESPACE,
                        "MetricName": metric,
                        "Dimensions": [{"Name": "service", "Value": service}],
                    },
                    "Period": seconds,
                    "Stat": "Sum",
                },
                "ReturnData": True,
            }
            for number, (metric, service) in enumerate(wanted)
        ]
        found = {f"m{number}": [0.0] * periods for number in range(len(wanted))}
        arguments: dict[str, Any] = {
            "MetricDataQueries": queries,
            "StartTime": start,
            "EndTime": end,
            "ScanBy": "TimestampAscending",
        }
        while True:
            answer = self.client().get_metric_data(**arguments)
            for result in answer["MetricDataResults"]:
                for moment, value in zip(result["Timestamps"], result["Values"], strict=True):
                    slot = (int(moment.timestamp()) - start_epoch) // seconds
                    if 0 <= slot < periods:
                        found[result["Id"]][slot] += value
            if not answer.get("NextToken"):
                break
            arguments["NextToken"] = answer["NextToken"]
        moments = [iso(start + period * n) for n in range(periods)]
        return [
            Series(metric, service, list(zip(moments, found[f"m{number}"], strict=True)))
            for number, (metric, service) in enumerate(wanted)
        ]
