"""Alarms an on-call engineer acts on, and a dashboard to look at first.

Alarms (to an SNS topic; `alarm_email` subscribes an address): any function error or
throttle, a stream consumer falling behind (iterator age), anything waiting in a failure or
dead-letter queue, and the API answering 5xx to more than 1% of requests.
"""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_apigatewayv2 as apigw
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as actions
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra import wiring
from infra.config import DeploymentConfig

FIVE_MINUTES = Duration.minutes(5)
CUSTOM_METRICS = (
    ("collector", "EventsAccepted"),
    ("collector", "EventsQuarantined"),
    ("collector", "EventsNotStored"),
    ("profile_builder", "EventsApplied"),
    ("profile_builder", "ProfilesMerged"),
    ("profile_builder", "WriteConflictsRetried"),
    ("publisher", "EventsPublished"),
    ("scheduler", "SegmentsExited"),
)


class Observability(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: DeploymentConfig,
        functions: dict[str, lambda_.Function],
        queues: dict[str, sqs.Queue],
        tables: dict[str, dynamodb.TableV2],
        api: apigw.HttpApi,
    ) -> None:
        super().__init__(scope, construct_id)
        self.topic = sns.Topic(
            self,
            "Alarms",
            master_key=kms.Alias.from_alias_name(self, "SnsKey", "alias/aws/sns"),
            enforce_ssl=True,
        )
        self.topic.add_to_resource_policy(
            iam.PolicyStatement(
                actions=["sns:Publish"],
                principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
                resources=[self.topic.topic_arn],
            )
        )
        if config.alarm_email:
            self.topic.add_subscription(subscriptions.EmailSubscription(config.alarm_email))
        self.alarms: list[cloudwatch.Alarm] = []
        for name, function in functions.items():
            self._alarm(f"{name}-errors", function.metric_errors(period=FIVE_MINUTES), 1)
            self._alarm(f"{name}-throttles", function.metric_throttles(period=FIVE_MINUTES), 1)
        for spec in wiring.FUNCTIONS:
            if spec.stream is not None:
                age = functions[spec.name].metric(
                    "IteratorAge", statistic="Maximum", period=FIVE_MINUTES
                )
                # Behind by more than a minute for a quarter of an hour.
                self._alarm(f"{spec.name}-iterator-age", age, 60_000, periods=3)
        for name, queue in queues.items():
            waiting = queue.metric_approximate_number_of_messages_visible(
                period=FIVE_MINUTES, statistic="Maximum"
            )
            self._alarm(f"{name}-waiting", waiting, 1)
        server_errors = cloudwatch.MathExpression(
            expression="100 * errors / MAX([requests, 1])",
            using_metrics={
                "errors": api.metric_server_error(period=FIVE_MINUTES, statistic="Sum"),
                "requests": api.metric_count(period=FIVE_MINUTES, statistic="Sum"),
            },
            label="5xx, % of requests",
            period=FIVE_MINUTES,
        )
        self._alarm("api-5xx-rate", server_errors, 1)
        self.dashboard = self._dashboard(functions, tables, api, server_errors)

    def _alarm(
        self, name: str, metric: cloudwatch.IMetric, threshold: float, periods: int = 1
    ) -> None:
        alarm = cloudwatch.Alarm(
            self,
            name,
            metric=metric,
            threshold=threshold,
            evaluation_periods=periods,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        alarm.add_alarm_action(actions.SnsAction(self.topic))
        self.alarms.append(alarm)

    def _dashboard(
        self,
        functions: dict[str, lambda_.Function],
        tables: dict[str, dynamodb.TableV2],
        api: apigw.HttpApi,
        server_errors: cloudwatch.MathExpression,
    ) -> cloudwatch.Dashboard:
        dashboard = cloudwatch.Dashboard(self, "Dashboard")
        dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="API requests and errors",
                left=[api.metric_count(), api.metric_client_error(), api.metric_server_error()],
                right=[server_errors],
                width=12,
            ),
            cloudwatch.GraphWidget(
                title="API latency (p50, p99)",
                left=[api.metric_latency(statistic="p50"), api.metric_latency(statistic="p99")],
                width=12,
            ),
            cloudwatch.GraphWidget(
                title="Pipeline",
                left=[
                    cloudwatch.Metric(
                        namespace="CDP",
                        metric_name=metric,
                        dimensions_map={"service": service},
                        statistic="Sum",
                        period=FIVE_MINUTES,
                    )
                    for service, metric in CUSTOM_METRICS
                ],
                width=12,
            ),
            cloudwatch.GraphWidget(
                title="Stream consumers: iterator age (ms)",
                left=[
                    functions[spec.name].metric("IteratorAge", statistic="Maximum")
                    for spec in wiring.FUNCTIONS
                    if spec.stream is not None
                ],
                width=12,
            ),
            cloudwatch.GraphWidget(
                title="Function errors",
                left=[function.metric_errors() for function in functions.values()],
                width=12,
            ),
            cloudwatch.GraphWidget(
                title="Function duration (p99)",
                left=[function.metric_duration(statistic="p99") for function in functions.values()],
                width=12,
            ),
            cloudwatch.GraphWidget(
                title="DynamoDB write units",
                left=[table.metric_consumed_write_capacity_units() for table in tables.values()],
                width=12,
            ),
            cloudwatch.GraphWidget(
                title="DynamoDB read units",
                left=[table.metric_consumed_read_capacity_units() for table in tables.values()],
                width=12,
            ),
        )
        return dashboard
