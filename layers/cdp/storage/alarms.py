"""Each destination's alarms, made with the destination (destinations are data, not part of
the stack, so their alarms cannot be): CloudWatch alarms on the deliverer's metrics for that
destination, to the stack's alarm topic.

- `<prefix><id>-failing`: the tool refused a delivery for good (5 minutes);
- `<prefix><id>-unreachable`: the tool asked to wait, or did not answer, in each of three
  5-minute periods running (a tool that is down; its deliveries wait in the queue).
"""

from __future__ import annotations

from typing import Any

from cdp.runtime.observability import NAMESPACE

FIVE_MINUTES = 300
DELIVERER = "deliverer"  # the service dimension of the deliverer's metrics


def destination_alarm_prefix(secret_prefix: str) -> str:
    """Alarms are named as the destinations' secrets are, with dashes: `Cdp-prod-destinations-`."""
    return secret_prefix.replace("/", "-")


class DestinationAlarms:
    def __init__(self, prefix: str, topic_arn: str, *, client: Any) -> None:
        self.prefix = prefix
        self.topic_arn = topic_arn
        self.client = client

    def names(self, destination_id: str) -> list[str]:
        return [
            f"{self.prefix}{destination_id}-failing",
            f"{self.prefix}{destination_id}-unreachable",
        ]

    def put(self, destination_id: str, destination_name: str) -> None:
        """Made, or made again as they are (the same call replaces an alarm)."""
        failing, unreachable = self.names(destination_id)
        for name, metric, periods, what in (
            (failing, "Failed", 1, "refused deliveries for good"),
            (unreachable, "Retried", 3, "asked to wait, or did not answer, for 15 minutes"),
        ):
            self.client.put_metric_alarm(
                AlarmName=name,
                AlarmDescription=f"Destination {destination_name} ({destination_id}): the tool "
                f"{what}. See `cdp destinations deliveries {destination_id}` for its last errors.",
                Namespace=NAMESPACE,
                MetricName=metric,
                Dimensions=[
                    {"Name": "destination", "Value": destination_id},
                    {"Name": "service", "Value": DELIVERER},
                ],
                Statistic="Sum",
                Period=FIVE_MINUTES,
                EvaluationPeriods=periods,
                Threshold=1,
                ComparisonOperator="GreaterThanOrEqualToThreshold",
                TreatMissingData="notBreaching",
                AlarmActions=[self.topic_arn],
                OKActions=[self.topic_arn],
            )

    def delete(self, destination_id: str) -> None:
        self.client.delete_alarms(AlarmNames=self.names(destination_id))
