"""The HTTP API: routes from `infra.wiring`, stage throttling and access logs.

CORS is answered by the functions themselves (Powertools), from the same allow-list the local
runtime uses; the API has no CORS configuration of its own, which would override them.
"""

from __future__ import annotations

import json

import jsii
from aws_cdk import RemovalPolicy
from aws_cdk import aws_apigateway as apigw_v1
from aws_cdk import aws_apigatewayv2 as apigw
from aws_cdk import aws_apigatewayv2_integrations as integrations
from aws_cdk import aws_certificatemanager as acm
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from infra import wiring
from infra.config import DeploymentConfig
from infra.constructs.checks import acknowledge
from infra.constructs.console import ConsoleSignIn

_ACCESS_LOG_FORMAT = json.dumps(
    {
        # No source IP and no query string: both can identify a person.
        "requestId": "$context.requestId",
        "time": "$context.requestTime",
        "routeKey": "$context.routeKey",
        "status": "$context.status",
        "latencyMs": "$context.responseLatency",
        "integrationLatencyMs": "$context.integrationLatency",
        "responseLength": "$context.responseLength",
        "error": "$context.error.message",
        "integrationError": "$context.integrationErrorMessage",
    }
)


@jsii.implements(apigw.IAccessLogSettings)
class _AccessLogSettings:
    def __init__(self, log_group: logs.ILogGroup) -> None:
        self._destination = apigw.LogGroupLogDestination(log_group)

    @property
    def destination(self) -> apigw.IAccessLogDestination:
        return self._destination

    @property
    def format(self) -> apigw_v1.AccessLogFormat:
        return apigw_v1.AccessLogFormat.custom(_ACCESS_LOG_FORMAT)


class HttpApiFront(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: DeploymentConfig,
        functions: dict[str, lambda_.Function],
    ) -> None:
        super().__init__(scope, construct_id)
        self.api = apigw.HttpApi(self, "HttpApi", create_default_stage=False)
        acknowledge(
            self.api,
            "AwsSolutions-APIG4",
            "the console's API routes have Cognito's JWT authorizer; every other route "
            "authenticates in its function: write keys for collecting and forms, the secret key "
            "for profiles and administration (hashed keys in the keys table)",
        )
        self.console = ConsoleSignIn(self, "Console", config=config, api=self.api)
        access_logs = logs.LogGroup(
            self,
            "AccessLogs",
            retention=logs.RetentionDays.ONE_MONTH,
            removal_policy=RemovalPolicy.DESTROY,
        )
        domain = None
        if config.domain_name and config.certificate_arn:
            domain = apigw.DomainName(
                self,
                "Domain",
                domain_name=config.domain_name,
                certificate=acm.Certificate.from_certificate_arn(
                    self, "Certificate", config.certificate_arn
                ),
            )
        self.stage = apigw.HttpStage(
            self,
            "DefaultStage",
            http_api=self.api,
            stage_name="$default",
            auto_deploy=True,
            domain_mapping=apigw.DomainMappingOptions(domain_name=domain) if domain else None,
            throttle=apigw.ThrottleSettings(
                rate_limit=config.throttle_rate, burst_limit=config.throttle_burst
            ),
            access_log_settings=_AccessLogSettings(access_logs),
        )
        for spec in wiring.FUNCTIONS:
            # One invoke permission per function for any of this API's routes, rather than
            # one per route: about 140 fewer resources, within CloudFormation's 500 per stack.
            integration = integrations.HttpLambdaIntegration(
                f"{spec.name}-integration", functions[spec.name], scope_permission_to_route=False
            )
            paths: dict[tuple[str, bool], set[str]] = {}
            for route in spec.routes:
                paths.setdefault((route.path, route.signed_in), set()).add(route.method)
            for (path, signed_in), methods in paths.items():
                allowed = methods | {"OPTIONS"} if spec.browser_facing else methods
                self.api.add_routes(
                    path=path,
                    methods=[apigw.HttpMethod[method] for method in sorted(allowed)],
                    integration=integration,
                    authorizer=self.console.authorizer if signed_in else None,
                )

    @property
    def url(self) -> str:
        return self.stage.url
