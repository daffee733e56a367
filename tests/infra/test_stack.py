"""Assertions on the synthesized CloudFormation template."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk.assertions import Match, Template

from cdp.runtime import tables
from cdp.runtime.settings import EVENT_HOT_DAYS
from infra import wiring
from infra.app import build
from infra.config import DeploymentConfig


def synth(context: dict[str, Any] | None = None) -> Template:
    app = cdk.App(context={"cdp": context or {}})
    return Template.from_stack(build(app))


@pytest.fixture(scope="module")
def app() -> cdk.App:
    return cdk.App(context={"cdp": {}})


@pytest.fixture(scope="module")
def template(app: cdk.App) -> Template:
    return Template.from_stack(build(app))


@pytest.fixture(scope="module")
def production() -> Template:
    return synth(
        {
            "stage": "prod",
            "allowed_origins": ["https://shop.example"],
            "lake_query_scan_limit_mb": 100,
        }
    )


def resources(template: Template, kind: str) -> dict[str, Any]:
    found: dict[str, Any] = template.find_resources(kind)
    return found


def table_named(template: Template, spec: tables.TableSpec) -> dict[str, Any]:
    [table] = [
        resource
        for logical_id, resource in resources(template, "AWS::DynamoDB::GlobalTable").items()
        if logical_id.startswith(f"Storage{spec.logical_name}")
    ]
    return table["Properties"]


@pytest.mark.parametrize("spec", tables.ALL_TABLES, ids=lambda spec: spec.logical_name)
def test_tables_follow_their_specs(template: Template, spec: tables.TableSpec) -> None:
    table = table_named(template, spec)
    keys = {key["AttributeName"]: key["KeyType"] for key in table["KeySchema"]}
    assert keys[spec.partition_key.name] == "HASH"
    if spec.sort_key:
        assert keys[spec.sort_key.name] == "RANGE"
    assert table["BillingMode"] == "PAY_PER_REQUEST"
    assert table["SSESpecification"] == {"SSEEnabled": True, "SSEType": "KMS"}
    replica = table["Replicas"][0]
    assert replica["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    if spec.ttl_attribute:
        assert table["TimeToLiveSpecification"] == {
            "AttributeName": spec.ttl_attribute,
            "Enabled": True,
        }
    if spec.stream:
        assert table["StreamSpecification"] == {"StreamViewType": spec.stream}
    else:
        assert "StreamSpecification" not in table


def test_dev_tables_can_be_torn_down(template: Template) -> None:
    for resource in resources(template, "AWS::DynamoDB::GlobalTable").values():
        assert resource["DeletionPolicy"] == "Delete"
        assert resource["Properties"]["Replicas"][0]["DeletionProtectionEnabled"] is False


def test_production_tables_are_protected(production: Template) -> None:
    for resource in resources(production, "AWS::DynamoDB::GlobalTable").values():
        assert resource["DeletionPolicy"] == "Retain"
        assert resource["Properties"]["Replicas"][0]["DeletionProtectionEnabled"] is True


def function_named(template: Template, name: str) -> dict[str, Any]:
    [function] = [
        resource["Properties"]
        for logical_id, resource in resources(template, "AWS::Lambda::Function").items()
        if logical_id.startswith(f"Functions{name.replace('_', '')}")
    ]
    return function


@pytest.mark.parametrize("spec", wiring.FUNCTIONS, ids=lambda spec: spec.name)
def test_functions_share_the_defaults(template: Template, spec: wiring.FunctionSpec) -> None:
    function = function_named(template, spec.name)
    assert function["Architectures"] == ["arm64"]
    assert function["Runtime"] == "python3.13"
    assert function["Handler"] == spec.handler
    assert function["TracingConfig"] == {"Mode": "Active"}
    assert function["LoggingConfig"]["LogFormat"] == "JSON"
    assert len(function["Layers"]) == 3 + spec.third_party + bool(spec.lake)


@pytest.mark.parametrize("spec", wiring.FUNCTIONS, ids=lambda spec: spec.name)
def test_environment_is_exactly_the_settings_model(
    template: Template, spec: wiring.FunctionSpec
) -> None:
    environment = function_named(template, spec.name)["Environment"]["Variables"]
    runtime = {"POWERTOOLS_SERVICE_NAME", *wiring.RUNTIME_ENV}
    assert set(environment) == spec.settings.env_names() | runtime
    assert environment["POWERTOOLS_TRACER_CAPTURE_ERROR"] == "false"  # no personal data in traces
    # every value validates: the configured ones as set, references (table names) as text
    spec.settings.from_env({k: v if isinstance(v, str) else "1" for k, v in environment.items()})


def staged_code(app: cdk.App, properties: dict[str, Any]) -> Path:
    """The directory where the synth staged a function's or a layer's code."""
    key: str = (properties.get("Content") or properties["Code"])["S3Key"]
    return Path(app.outdir) / f"asset.{key.removesuffix('.zip')}"


def test_our_code_ships_with_bytecode_for_the_runtime(app: cdk.App, template: Template) -> None:
    from infra.constructs.functions import PYTHON_VERSION

    [layer] = [
        resource["Properties"]
        for resource in resources(template, "AWS::Lambda::LayerVersion").values()
        if resource["Properties"]["Description"] == "cdp domain package"
    ]
    domain = staged_code(app, layer)
    functions = staged_code(app, function_named(template, "collector"))
    assert (domain / "python" / "cdp" / "storage" / "clients.py").is_file()
    assert (functions / "functions" / "collector" / "handler.py").is_file()

    # every module has the runtime's bytecode beside it (a read-only file system: what is not
    # there is compiled at every cold start), valid whatever the files' timestamps
    tag = "cpython-" + PYTHON_VERSION.replace(".", "")
    for module in [*domain.rglob("*.py"), *functions.rglob("*.py")]:
        compiled = module.parent / "__pycache__" / f"{module.stem}.{tag}.pyc"
        assert compiled.is_file(), compiled
        flags = int.from_bytes(compiled.read_bytes()[4:8], "little")
        assert flags == 0b01, compiled  # hash-based, never checked against the source


def test_configuration_reaches_the_functions(production: Template) -> None:
    environment = function_named(production, "collector")["Environment"]["Variables"]
    assert environment["ALLOWED_ORIGINS"] == "https://shop.example"
    assert environment["EVENT_RETENTION_DAYS"] == "395"
    # events stay in the table for the hot window; the timeline points past it to the lake
    for name in ("collector", "forms_api", "webhooks", "importer", "profile_api"):
        variables = function_named(production, name)["Environment"]["Variables"]
        assert variables["EVENT_HOT_DAYS"] == str(EVENT_HOT_DAYS), name
        assert variables["EVENT_RETENTION_DAYS"] == "395", name


def test_powertools_layer_is_the_tested_version(template: Template) -> None:
    from aws_lambda_powertools.shared.version import VERSION

    parameters = template.to_json()["Parameters"]
    assert any(
        parameter.get("Default") == f"/aws/service/powertools/python/arm64/python3.13/{VERSION}"
        for parameter in parameters.values()
    )


def test_the_deployed_dependencies_are_the_tested_versions() -> None:
    from importlib.metadata import version

    from infra.constructs.functions import CODECS, DEPENDENCIES

    pinned = [
        line.split("#")[0].strip().split("==")
        for installer in (DEPENDENCIES, CODECS)
        for line in installer.requirements.read_text().splitlines()
        if line.split("#")[0].strip()
    ]
    assert {name for name, _ in pinned} == {"cryptography", "zstandard", "orjson"}
    for name, wanted in pinned:
        assert version(name) == wanted, f"{name}: tests run {version(name)}, Lambda gets {wanted}"


def test_the_dependency_layers_hold_linux_arm64_wheels_for_the_runtime(
    template: Template,  # synthesized: the layers are built
) -> None:
    from infra.constructs.functions import CODECS, DEPENDENCIES, PYTHON_VERSION

    for installer, packages in (
        (DEPENDENCIES, ["cryptography"]),
        (CODECS, ["zstandard", "orjson"]),
    ):
        built = installer.built
        libraries = [path.name for path in (built / "python").rglob("*.so")]
        assert libraries
        assert all("aarch64" in name or "abi3" in name for name in libraries), libraries
        for package in packages:
            assert (built / "python" / package).is_dir()
    tag = "cpython-" + PYTHON_VERSION.replace(".", "")
    for package in ("zstandard", "orjson"):
        assert any(tag in name for name in os.listdir(CODECS.built / "python" / package))
    assert [spec.name for spec in wiring.FUNCTIONS if spec.third_party] == ["webhooks"]


def statements_of(template: Template, function: str) -> list[dict[str, Any]]:
    """The statements of a function's own role (not, say, the scheduler's role for it)."""
    [policy] = [
        resource["Properties"]["PolicyDocument"]["Statement"]
        for logical_id, resource in resources(template, "AWS::IAM::Policy").items()
        if logical_id.startswith(f"Functions{function.replace('_', '')}role")
    ]
    return policy


def actions_on(template: Template, function: str, spec: tables.TableSpec) -> set[str]:
    table_id = next(
        logical_id
        for logical_id in resources(template, "AWS::DynamoDB::GlobalTable")
        if logical_id.startswith(f"Storage{spec.logical_name}")
    )
    granted: set[str] = set()
    for statement in statements_of(template, function):
        targets = (
            statement["Resource"]
            if isinstance(statement["Resource"], list)
            else [statement["Resource"]]
        )
        if any(table_id in str(target) for target in targets):
            actions = statement["Action"]
            granted |= set(actions if isinstance(actions, list) else [actions])
    return granted


def test_collector_can_write_events_but_never_read_them(template: Template) -> None:
    events = actions_on(template, "collector", tables.EVENTS)
    assert "dynamodb:BatchWriteItem" in events
    assert not events & {
        "dynamodb:GetItem",
        "dynamodb:Query",
        "dynamodb:Scan",
        "dynamodb:GetRecords",
    }
    quarantine = actions_on(template, "collector", tables.QUARANTINE)
    assert "dynamodb:BatchWriteItem" in quarantine
    assert not quarantine & {"dynamodb:GetItem", "dynamodb:Query", "dynamodb:Scan"}


def test_collector_can_only_read_keys(template: Template) -> None:
    granted = actions_on(template, "collector", tables.KEYS)
    assert "dynamodb:GetItem" in granted
    assert not granted & {
        "dynamodb:PutItem",
        "dynamodb:UpdateItem",
        "dynamodb:DeleteItem",
        "dynamodb:BatchWriteItem",
    }


def test_no_function_has_wildcard_data_access(template: Template) -> None:
    for spec in wiring.FUNCTIONS:
        # Reading the functions' own metrics takes no resource (CloudWatch has none for it).
        metrics = {"cloudwatch:GetMetricData"} if spec.reads_metrics else set()
        for statement in statements_of(template, spec.name):
            if statement["Resource"] == "*":
                actions = statement["Action"]
                actions = {actions} if isinstance(actions, str) else set(actions)
                assert actions <= {"xray:PutTraceSegments", "xray:PutTelemetryRecords", *metrics}


def test_only_the_console_reads_metrics(template: Template) -> None:
    readers = {
        spec.name
        for spec in wiring.FUNCTIONS
        for statement in statements_of(template, spec.name)
        if "cloudwatch:GetMetricData" in statement["Action"]
    }
    assert readers == {"console"}


def test_every_wired_route_exists(template: Template) -> None:
    route_keys = {
        resource["Properties"]["RouteKey"]
        for resource in resources(template, "AWS::ApiGatewayV2::Route").values()
    }
    for spec in wiring.FUNCTIONS:
        for route in spec.routes:
            assert f"{route.method} {route.path}" in route_keys
            if spec.browser_facing:
                assert f"OPTIONS {route.path}" in route_keys


def test_api_has_no_cors_of_its_own(template: Template) -> None:
    # CORS is answered by the functions; an API-level configuration would override them.
    template.has_resource_properties(
        "AWS::ApiGatewayV2::Api", {"CorsConfiguration": Match.absent()}
    )


def test_stage_is_throttled_and_logged(template: Template) -> None:
    template.has_resource_properties(
        "AWS::ApiGatewayV2::Stage",
        {
            "StageName": "$default",
            "AutoDeploy": True,
            "DefaultRouteSettings": {"ThrottlingBurstLimit": 2000, "ThrottlingRateLimit": 1000},
            "AccessLogSettings": {
                "DestinationArn": Match.any_value(),
                "Format": Match.string_like_regexp("routeKey"),
            },
        },
    )


def test_access_logs_leave_out_ip_addresses(template: Template) -> None:
    [stage] = resources(template, "AWS::ApiGatewayV2::Stage").values()
    log_format = stage["Properties"]["AccessLogSettings"]["Format"]
    assert "sourceIp" not in log_format
    assert "identity" not in log_format


def test_bad_configuration_is_refused() -> None:
    with pytest.raises(ValueError, match="stage"):
        synth({"stage": "Not Valid!"})


def test_profile_builder_reads_the_events_stream_with_partial_failures(template: Template) -> None:
    template.has_resource_properties(
        "AWS::Lambda::EventSourceMapping",
        {
            "FunctionName": Match.any_value(),
            "EventSourceArn": {
                "Fn::GetAtt": [Match.string_like_regexp("StorageEvents"), "StreamArn"]
            },
            "StartingPosition": "TRIM_HORIZON",
            "BatchSize": wiring.PROFILE_BUILDER.stream.batch_size,  # type: ignore[union-attr]
            "MaximumBatchingWindowInSeconds": 1,
            "BisectBatchOnFunctionError": True,
            "MaximumRetryAttempts": 10,
            "MaximumRecordAgeInSeconds": 6 * 3600,
            "FunctionResponseTypes": ["ReportBatchItemFailures"],
            "DestinationConfig": {"OnFailure": {"Destination": Match.any_value()}},
        },
    )


def test_failed_stream_batches_go_to_an_encrypted_queue(template: Template) -> None:
    template.has_resource_properties(
        "AWS::SQS::Queue", {"SqsManagedSseEnabled": True, "MessageRetentionPeriod": 14 * 86400}
    )


def test_profile_builder_writes_profiles_and_identities_but_not_events(template: Template) -> None:
    assert "dynamodb:PutItem" in actions_on(template, "profile_builder", tables.PROFILES)
    assert "dynamodb:PutItem" in actions_on(template, "profile_builder", tables.IDENTITIES)
    events = actions_on(template, "profile_builder", tables.EVENTS)
    assert not events & {"dynamodb:PutItem", "dynamodb:BatchWriteItem", "dynamodb:DeleteItem"}
    assert not actions_on(template, "profile_builder", tables.KEYS)


def test_profile_api_only_reads(template: Template) -> None:
    writes = {
        "dynamodb:PutItem",
        "dynamodb:UpdateItem",
        "dynamodb:DeleteItem",
        "dynamodb:BatchWriteItem",
    }
    for spec in (tables.EVENTS, tables.PROFILES, tables.IDENTITIES, tables.CONFIG, tables.KEYS):
        granted = actions_on(template, "profile_api", spec)
        assert "dynamodb:GetItem" in granted or "dynamodb:Query" in granted
        assert not granted & writes


def test_profiles_table_streams_both_images_for_the_publisher(template: Template) -> None:
    assert table_named(template, tables.PROFILES)["StreamSpecification"] == {
        "StreamViewType": "NEW_AND_OLD_IMAGES"
    }


def test_publisher_reads_the_profiles_stream_and_may_only_put_on_the_bus(
    template: Template,
) -> None:
    template.has_resource_properties(
        "AWS::Lambda::EventSourceMapping",
        {
            "EventSourceArn": {
                "Fn::GetAtt": [Match.string_like_regexp("StorageProfiles"), "StreamArn"]
            },
            "FunctionResponseTypes": ["ReportBatchItemFailures"],
        },
    )
    put_events = [
        statement
        for statement in statements_of(template, "publisher")
        if statement["Action"] == "events:PutEvents"
    ]
    assert len(put_events) == 1
    assert put_events[0]["Resource"] != "*"


def test_scheduler_runs_every_five_minutes(template: Template) -> None:
    template.has_resource_properties(
        "AWS::Scheduler::Schedule",
        {
            "ScheduleExpression": "rate(5 minutes)",
            "Target": {"Arn": Match.any_value(), "RetryPolicy": Match.any_value()},
        },
    )


def test_backfill_tasks_flow_through_a_queue_with_a_dead_letter_queue(template: Template) -> None:
    template.has_resource_properties(
        "AWS::SQS::Queue",
        {"RedrivePolicy": {"deadLetterTargetArn": Match.any_value(), "maxReceiveCount": 5}},
    )
    template.has_resource_properties(
        "AWS::Lambda::EventSourceMapping",
        {
            "EventSourceArn": {"Fn::GetAtt": [Match.string_like_regexp("Backfillqueue"), "Arn"]},
            "FunctionResponseTypes": ["ReportBatchItemFailures"],
        },
    )


def test_deliveries_flow_in_order_through_a_fifo_queue_to_the_deliverer(
    template: Template,
) -> None:
    queues = resources(template, "AWS::SQS::Queue")
    deliveries = next(q for i, q in queues.items() if i.startswith("FunctionsDeliveriesqueue"))
    dead = next(q for i, q in queues.items() if i.startswith("FunctionsDeliveriesdeadletters"))
    assert deliveries["Properties"]["FifoQueue"] is True
    assert dead["Properties"]["FifoQueue"] is True  # a FIFO queue's dead letters must be FIFO
    assert deliveries["Properties"]["RedrivePolicy"]["maxReceiveCount"] == 24
    template.has_resource_properties(
        "AWS::Lambda::EventSourceMapping",
        {
            "EventSourceArn": {"Fn::GetAtt": [Match.string_like_regexp("Deliveriesqueue"), "Arn"]},
            "BatchSize": 10,
            "FunctionResponseTypes": ["ReportBatchItemFailures"],
        },
    )


@pytest.mark.parametrize(
    ("function", "manages"), [("deliverer", False), ("admin_api", True), ("publisher", None)]
)
def test_only_destinations_secrets_are_reachable_and_only_the_admin_api_writes_them(
    template: Template, function: str, manages: bool | None
) -> None:
    secret_actions = {
        action
        for statement in statements_of(template, function)
        for action in (
            statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        )
        if action.startswith("secretsmanager:")
        and "destinations/" in json.dumps(statement["Resource"])
    }
    if manages is None:
        assert secret_actions == set()
        return
    assert "secretsmanager:GetSecretValue" in secret_actions
    assert ("secretsmanager:PutSecretValue" in secret_actions) is manages
    assert ("secretsmanager:CreateSecret" in secret_actions) is manages


def test_destinations_receive_only_people_who_granted_their_purpose() -> None:
    context: dict[str, Any] = {
        "destinations": [
            {
                "name": "crm",
                "type": "webhook",
                "purpose": "marketing",
                "url": "https://crm.example/hooks/cdp",
                "auth": {"type": "api_key", "secret_name": "cdp/crm"},
                "rate_per_second": 5,
            },
            {
                "name": "warehouse",
                "type": "sqs",
                "purpose": "analytics",
                "events": ["profile.updated"],
            },
        ]
    }
    template = synth(context)
    # the rules are `Destination.rule_patterns`, the one source the tests route moto's bus with
    built = {
        logical_id: rule["Properties"]["EventPattern"]
        for logical_id, rule in template.find_resources("AWS::Events::Rule").items()
    }
    expected = {
        f"Sharing{destination.name}{suffix}": pattern
        for destination in DeploymentConfig.model_validate(context).destinations
        for suffix, pattern in destination.rule_patterns().items()
    }
    assert len(built) == len(expected) == 3
    for prefix, pattern in expected.items():
        (found,) = [built[logical_id] for logical_id in built if logical_id.startswith(prefix)]
        assert found == pattern
    template.has_resource_properties(
        "AWS::Events::Rule",
        {
            "EventPattern": {
                "source": ["cdp"],
                "detail-type": [
                    "segment.entered",
                    "segment.exited",
                    "profile.updated",
                    "profile.merged",
                    "profile.unmerged",
                ],
                "detail": {"for_purposes": ["marketing"]},
            },
            "Targets": [
                Match.object_like(
                    {"DeadLetterConfig": Match.any_value(), "RetryPolicy": Match.any_value()}
                )
            ],
        },
    )
    template.has_resource_properties(
        "AWS::Events::Rule",
        {"EventPattern": {"source": ["cdp"], "detail-type": ["profile.deleted"]}},
    )
    template.has_resource_properties(
        "AWS::Events::Rule",
        {
            "EventPattern": {
                "source": ["cdp"],
                "detail-type": ["profile.updated"],
                "detail": {"for_purposes": ["analytics"]},
            }
        },
    )
    template.has_resource_properties(
        "AWS::Events::ApiDestination",
        {"InvocationEndpoint": "https://crm.example/hooks/cdp", "InvocationRateLimitPerSecond": 5},
    )


def test_a_webhook_without_auth_is_refused() -> None:
    with pytest.raises(ValueError, match="needs 'url' and 'auth'"):
        synth({"destinations": [{"name": "x", "type": "webhook", "purpose": "marketing"}]})


@pytest.mark.parametrize(
    "url",
    ["https://169.254.169.254/latest/meta-data/", "https://10.1.2.3/hook", "https://[::1]/",
     "https://metadata.google.internal/", "https://0x7f.1/", "https://crm.example@127.0.0.1/"],
)  # fmt: skip
def test_a_webhook_inside_the_firewall_is_refused(url: str) -> None:
    """No SSRF through configuration: destinations deliver to public hosts only."""
    webhook = {"name": "x", "type": "webhook", "purpose": "marketing", "url": url,
               "auth": {"type": "basic", "secret_name": "cdp/x"}}  # fmt: skip
    with pytest.raises(ValueError, match="a webhook must be a public https:// URL"):
        DeploymentConfig.model_validate({"destinations": [webhook]})


@pytest.mark.parametrize(
    "context",
    [
        {},
        {
            "stage": "prod",
            "alarm_email": "oncall@shop.example",
            "domain_name": "cdp.shop.example",
            "certificate_arn": "arn:aws:acm:eu-west-1:123456789012:certificate/abc",
            "destinations": [
                {
                    "name": "crm",
                    "type": "webhook",
                    "purpose": "marketing",
                    "url": "https://crm.example/hook",
                    "auth": {"type": "basic", "secret_name": "cdp/crm"},
                },
                {"name": "lake", "type": "sqs", "purpose": "analytics"},
            ],
        },
    ],
    ids=["dev", "prod-with-everything"],
)
def test_the_stack_passes_cdk_nag_and_cfn_lint(context: dict[str, Any], tmp_path: Any) -> None:
    import json
    import subprocess
    import sys
    from pathlib import Path

    from infra.app import checked

    # given the app as `cdk synth` builds it, with cdk-nag's AwsSolutions rules
    app = cdk.App(outdir=str(tmp_path), context={"cdp": context})
    stack = build(app)

    # when it is synthesized (a finding not acknowledged with a reason fails the synth)
    assembly = checked(app).synth()

    # then cdk-nag found nothing unacknowledged ...
    report = json.loads((tmp_path / "validation-report.json").read_text())
    assert report["pluginReports"]
    violations = [v for plugin in report["pluginReports"] for v in plugin.get("violations", [])]
    assert violations == []
    # ... and cfn-lint finds no error in the template
    template = assembly.get_stack_artifact(stack.artifact_id).template_full_path
    cfn_lint = str(Path(sys.executable).with_name("cfn-lint"))
    lint = subprocess.run(
        [cfn_lint, "--format", "parseable", template],
        capture_output=True,
        text=True,
        check=False,
    )
    errors = [line for line in lint.stdout.splitlines() if ":E" in line]
    assert errors == [], lint.stdout
    # exit status: a bit mask of 2 errors, 4 warnings, 8 notices; anything else: it did not run
    assert lint.returncode in (0, 4, 8, 12), lint.stderr


def test_functions_have_their_own_roles_without_managed_policies(template: Template) -> None:
    roles = resources(template, "AWS::IAM::Role")
    for spec in wiring.FUNCTIONS:
        [role] = [
            r
            for lid, r in roles.items()
            if lid.startswith(f"Functions{spec.name.replace('_', '')}role")
        ]
        assert "ManagedPolicyArns" not in role["Properties"]


@pytest.mark.parametrize("spec", wiring.FUNCTIONS, ids=lambda spec: spec.name)
def test_each_function_touches_only_its_tables(
    template: Template, spec: wiring.FunctionSpec
) -> None:
    mine = {table for table, _ in spec.tables}
    for table in tables.ALL_TABLES:
        granted = actions_on(template, spec.name, table)
        if table not in mine:
            assert not granted - {
                "dynamodb:GetRecords",
                "dynamodb:GetShardIterator",
                "dynamodb:DescribeStream",
                "dynamodb:ListStreams",
            }, table.logical_name
            continue
        access = dict(spec.tables)[table]
        writes = {
            "dynamodb:PutItem",
            "dynamodb:UpdateItem",
            "dynamodb:DeleteItem",
            "dynamodb:BatchWriteItem",
        }
        if access == "read":
            assert not granted & writes
        if access == "read_delete":
            assert not granted & {"dynamodb:PutItem", "dynamodb:UpdateItem"}
        if access == "write":
            assert not granted & {
                "dynamodb:GetItem",
                "dynamodb:Query",
                "dynamodb:Scan",
                "dynamodb:DeleteItem",
            }
        assert ("dynamodb:Scan" in granted) == (table in spec.scans)


def test_alarms_cover_errors_throttles_lag_failures_and_5xx(template: Template) -> None:
    alarms = resources(template, "AWS::CloudWatch::Alarm")
    names = {alarm["Properties"].get("MetricName") for alarm in alarms.values()}
    assert {"Errors", "Throttles", "IteratorAge", "ApproximateNumberOfMessagesVisible"} <= names
    assert any("Metrics" in alarm["Properties"] for alarm in alarms.values())  # the 5xx rate
    per_function = [a for a in alarms.values() if a["Properties"].get("MetricName") == "Errors"]
    assert len(per_function) == len(wiring.FUNCTIONS)
    template.resource_count_is("AWS::CloudWatch::Dashboard", 1)
    for alarm in alarms.values():
        assert alarm["Properties"]["AlarmActions"]


def test_some_functions_are_capped_to_protect_the_tables(template: Template) -> None:
    for spec in wiring.FUNCTIONS:
        function = function_named(template, spec.name)
        assert function.get("ReservedConcurrentExecutions") == spec.reserved_concurrency
    assert wiring.SEGMENT_BACKFILL.reserved_concurrency == 4


def test_a_stage_takes_the_shared_configuration_and_its_own() -> None:
    app = cdk.App(
        context={
            "stage": "prod",
            "cdp": {"stage": "dev", "event_retention_days": 200, "allowed_origins": ["*"]},
            "cdp.prod": {"allowed_origins": ["https://www.shop.example"], "consent_required": True},
        }
    )
    stack = build(app)
    assert stack.stack_name == "Cdp-prod"
    environment = function_named(Template.from_stack(stack), "collector")["Environment"][
        "Variables"
    ]
    assert environment["EVENT_RETENTION_DAYS"] == "200"
    assert environment["EVENT_HOT_DAYS"] == str(min(EVENT_HOT_DAYS, 200))
    assert environment["ALLOWED_ORIGINS"] == "https://www.shop.example"
    assert environment["CONSENT_REQUIRED"] == "true"


def bucket_named(template: Template, prefix: str) -> tuple[str, dict[str, Any]]:
    [(logical_id, bucket)] = [
        (logical_id, resource)
        for logical_id, resource in resources(template, "AWS::S3::Bucket").items()
        if logical_id.startswith(prefix)
    ]
    return logical_id, bucket


def denials_of(template: Template, bucket_id: str) -> list[dict[str, Any]]:
    [policy] = [
        policy
        for policy in resources(template, "AWS::S3::BucketPolicy").values()
        if policy["Properties"]["Bucket"] == {"Ref": bucket_id}
    ]
    return [s for s in policy["Properties"]["PolicyDocument"]["Statement"] if s["Effect"] == "Deny"]


def test_the_import_bucket_is_private_encrypted_and_transient(template: Template) -> None:
    bucket_id, bucket = bucket_named(template, "StorageImports")
    properties = bucket["Properties"]
    assert properties["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True,
        "BlockPublicPolicy": True,
        "IgnorePublicAcls": True,
        "RestrictPublicBuckets": True,
    }
    assert properties["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    [rule] = properties["LifecycleConfiguration"]["Rules"]
    assert rule["ExpirationInDays"] == 30
    denials = denials_of(template, bucket_id)
    assert any(s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}} for s in denials)


def test_files_dropped_under_imports_start_the_importer(template: Template) -> None:
    [notifications] = resources(template, "Custom::S3BucketNotifications").values()
    configurations = notifications["Properties"]["NotificationConfiguration"][
        "LambdaFunctionConfigurations"
    ]
    filters = {
        tuple(sorted((r["Name"], r["Value"]) for r in c["Filter"]["Key"]["FilterRules"]))
        for c in configurations
    }
    assert filters == {
        (("prefix", "imports/"), ("suffix", suffix))
        for suffix in (".csv", ".jsonl", ".ndjson", ".continue.json")
    }
    assert {c["Events"] == ["s3:ObjectCreated:*"] for c in configurations} == {True}


def test_the_import_bucket_is_an_output(template: Template) -> None:
    assert "ImportBucketName" in template.find_outputs("*")


def test_only_the_importer_touches_the_import_bucket_and_only_its_objects(
    template: Template,
) -> None:
    for spec in wiring.FUNCTIONS:
        s3_statements = [
            s
            for s in statements_of(template, spec.name)
            if any(str(a).startswith("s3:") for a in _as_list(s["Action"]))
        ]
        if spec.lake:  # the lake's bucket, and no other (test_lake_grants_are_...)
            assert "StorageImports" not in json.dumps(s3_statements), spec.name
            continue
        if spec is not wiring.IMPORTER:
            assert not s3_statements, spec.name
            continue
        [statement] = s3_statements
        assert sorted(statement["Action"]) == ["s3:GetObject", "s3:PutObject"]
        assert "/imports/*" in str(statement["Resource"])


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def test_the_console_signs_people_in_with_cognito_and_its_routes_need_a_token(
    template: Template,
) -> None:
    # the page's app client: the code flow with PKCE, no secret, back to the console's pages
    [client] = resources(template, "AWS::Cognito::UserPoolClient").values()
    properties = client["Properties"]
    assert properties["AllowedOAuthFlows"] == ["code"]
    assert properties.get("GenerateSecret", False) is False
    assert "/console/callback" in json.dumps(properties["CallbackURLs"])
    # signing out comes back to /console, which the page names as its logout_uri
    assert json.dumps(properties["LogoutURLs"]).count("/console") == 1
    assert "/console/callback" not in json.dumps(properties["LogoutURLs"])
    groups = {
        g["Properties"]["GroupName"]
        for g in resources(template, "AWS::Cognito::UserPoolGroup").values()
    }
    assert groups == {"viewer", "editor", "admin"}
    # every console API route has the JWT authorizer, and no other route has one
    routes = {
        r["Properties"]["RouteKey"]: r["Properties"].get("AuthorizationType", "NONE")
        for r in resources(template, "AWS::ApiGatewayV2::Route").values()
    }
    signed_in = {
        f"{r.method} {r.path}" for spec in wiring.FUNCTIONS for r in spec.routes if r.signed_in
    }
    assert signed_in
    assert {key for key, kind in routes.items() if kind == "JWT"} == signed_in


def test_the_deliverer_may_keep_ses_contacts_and_nothing_else_of_ses(template: Template) -> None:
    ses = [
        statement
        for statement in statements_of(template, "deliverer")
        if any(str(action).startswith("ses:") for action in statement["Action"])
    ]
    [statement] = ses
    assert sorted(statement["Action"]) == [
        "ses:CreateContact",
        "ses:DeleteContact",
        "ses:UpdateContact",
    ]
    assert "contact-list/*" in json.dumps(statement["Resource"])


# The data lake (issue 18): Iceberg tables in S3 and Glue, queried with Athena.

LAKE_FUNCTIONS = [spec for spec in wiring.FUNCTIONS if spec.lake]
# Lambda's limit for a function and all its layers, unzipped (250 MB: 262,144,000 bytes).
UNZIPPED_LIMIT_MB = 250
# The public Powertools layer (not built here, so not measured): Powertools 3.37.0 with its
# extras (pydantic, the X-Ray SDK, cryptography) came to about 23 MB installed for arm64
# without boto3/botocore, 29 MB with bytecode; this leaves room for it to grow.
POWERTOOLS_LAYER_MB = 35


def test_the_lake_bucket_is_private_encrypted_and_unversioned(template: Template) -> None:
    bucket_id, bucket = bucket_named(template, "LakeBucket")
    properties = bucket["Properties"]
    assert properties["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True,
        "BlockPublicPolicy": True,
        "IgnorePublicAcls": True,
        "RestrictPublicBuckets": True,
    }
    [encryption] = properties["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert encryption["ServerSideEncryptionByDefault"] == {"SSEAlgorithm": "AES256"}
    # erasure deletes files: a versioned bucket would keep each one as a noncurrent version
    assert "VersioningConfiguration" not in properties
    # nothing expires the tables' files (cdp.lake does), only uploads left half done
    [rule] = properties["LifecycleConfiguration"]["Rules"]
    assert rule["AbortIncompleteMultipartUpload"] == {"DaysAfterInitiation": 1}
    assert "ExpirationInDays" not in rule
    denials = denials_of(template, bucket_id)
    assert any(s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}} for s in denials)
    assert bucket["DeletionPolicy"] == "Delete"  # dev: it goes with the stack


def test_production_keeps_the_lake(production: Template) -> None:
    assert bucket_named(production, "LakeBucket")[1]["DeletionPolicy"] == "Retain"
    [database] = resources(production, "AWS::Glue::Database").values()
    assert database["DeletionPolicy"] == "Retain"


def test_query_results_are_private_and_expire(template: Template) -> None:
    bucket_id, bucket = bucket_named(template, "LakeQueryResults")
    properties = bucket["Properties"]
    assert properties["PublicAccessBlockConfiguration"]["BlockPublicPolicy"] is True
    assert properties["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    [rule] = properties["LifecycleConfiguration"]["Rules"]
    assert rule["ExpirationInDays"] == 1
    assert any(
        s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
        for s in denials_of(template, bucket_id)
    )


def test_the_glue_database_holds_the_tables_below_the_lake_bucket(template: Template) -> None:
    [database] = resources(template, "AWS::Glue::Database").values()
    given = database["Properties"]["DatabaseInput"]
    assert given["Name"] == "cdp_dev"  # one per stage: Glue's names are the account's
    bucket_id, _ = bucket_named(template, "LakeBucket")
    assert given["LocationUri"] == {"Fn::Join": ["", ["s3://", {"Ref": bucket_id}, "/tables"]]}


@pytest.mark.parametrize(("stage", "limit_mb"), [("dev", 10 * 1024), ("prod", 100)])
def test_the_athena_workgroup_enforces_engine_3_a_scan_limit_and_encrypted_results(
    template: Template, production: Template, stage: str, limit_mb: int
) -> None:
    [resource] = resources(
        template if stage == "dev" else production, "AWS::Athena::WorkGroup"
    ).values()
    workgroup = resource["Properties"]
    assert workgroup["Name"] == f"cdp-{stage}"
    configuration = workgroup["WorkGroupConfiguration"]
    assert configuration["EnforceWorkGroupConfiguration"] is True
    assert configuration["EngineVersion"] == {"SelectedEngineVersion": "Athena engine version 3"}
    assert configuration["BytesScannedCutoffPerQuery"] == limit_mb * 1024 * 1024
    results = configuration["ResultConfiguration"]
    assert results["EncryptionConfiguration"] == {"EncryptionOption": "SSE_S3"}
    assert "LakeQueryResults" in json.dumps(results["OutputLocation"])


def test_a_scan_limit_below_athenas_minimum_is_refused() -> None:
    with pytest.raises(ValueError, match="lake_query_scan_limit_mb"):
        DeploymentConfig.model_validate({"lake_query_scan_limit_mb": 9})


def test_the_cli_finds_the_lake_in_the_outputs(template: Template) -> None:
    outputs = template.find_outputs("*")
    assert outputs["LakeDatabaseName"]["Value"] == "cdp_dev"
    assert outputs["LakeWorkgroupName"]["Value"] == "cdp-dev"
    assert "LakeWarehouse" in outputs


def _layer_ids(template: Template, description: str) -> list[str]:
    return [
        logical_id
        for logical_id, resource in resources(template, "AWS::Lambda::LayerVersion").items()
        if resource["Properties"]["Description"].startswith(description)
    ]


@pytest.mark.parametrize("spec", wiring.FUNCTIONS, ids=lambda spec: spec.name)
def test_lake_functions_have_the_lake_layer_and_warehouse(
    template: Template, spec: wiring.FunctionSpec
) -> None:
    [lake_layer] = _layer_ids(template, "the data lake's")
    function = function_named(template, spec.name)
    environment = function["Environment"]["Variables"]
    if not spec.lake:
        assert {"Ref": lake_layer} not in function["Layers"]
        assert "LAKE_WAREHOUSE" not in environment
        return
    assert {"Ref": lake_layer} in function["Layers"]
    bucket_id, _ = bucket_named(template, "LakeBucket")
    assert environment["LAKE_WAREHOUSE"] == {
        "Fn::Join": ["", ["s3://", {"Ref": bucket_id}, "/tables"]]
    }
    assert environment["LAKE_DATABASE"] == "cdp_dev"


def test_the_lake_writer_is_a_lake_function() -> None:
    assert wiring.LAKE_WRITER in LAKE_FUNCTIONS


def _statements_on(template: Template, function: str, service: str) -> list[dict[str, Any]]:
    return [
        statement
        for statement in statements_of(template, function)
        if any(str(action).startswith(f"{service}:") for action in _as_list(statement["Action"]))
    ]


@pytest.mark.parametrize("spec", wiring.FUNCTIONS, ids=lambda spec: spec.name)
def test_lake_grants_are_its_bucket_tables_and_database_only(
    template: Template, spec: wiring.FunctionSpec
) -> None:
    glue = _statements_on(template, spec.name, "glue")
    if not spec.lake:
        assert not glue
        assert "LakeBucket" not in json.dumps(statements_of(template, spec.name))
        return
    bucket_id, _ = bucket_named(template, "LakeBucket")
    objects, listing = _statements_on(template, spec.name, "s3")
    writes = spec.lake == "write"
    assert sorted(_as_list(objects["Action"])) == (
        ["s3:AbortMultipartUpload", "s3:DeleteObject", "s3:GetObject", "s3:PutObject"]
        if writes
        else ["s3:GetObject"]  # the privacy API's exports only read
    )
    assert objects["Resource"] == {
        "Fn::Join": ["", [{"Fn::GetAtt": [bucket_id, "Arn"]}, "/tables/*"]]
    }
    assert listing["Action"] == "s3:ListBucket"
    assert listing["Resource"] == {"Fn::GetAtt": [bucket_id, "Arn"]}

    [statement] = glue
    assert set(statement["Action"]) == {
        "glue:GetDatabase",
        "glue:GetTable",
        "glue:GetTables",
        *(("glue:CreateTable", "glue:UpdateTable") if writes else ()),
    }
    targets = [json.dumps(resource) for resource in statement["Resource"]]
    assert [target.split(":")[-1].rstrip('"]}') for target in targets] == [
        "catalog",
        "database/cdp_dev",
        "table/cdp_dev/*",
    ]


def test_the_lake_layer_is_trimmed_arm64_for_the_runtime(
    template: Template,  # synthesized: the layers are built
) -> None:
    from infra.constructs.functions import LAKE, PYTHON_VERSION

    python = LAKE.built / "python"
    for package in ("pyiceberg", "pyarrow", "pyiceberg_core", "pyroaring"):
        assert any(python.glob(f"{package}*")), package
    libraries = [path.name for path in python.rglob("*.so*")]
    assert all("x86_64" not in name for name in libraries)
    assert any("aarch64" in name for name in libraries)
    tag = "cpython-" + PYTHON_VERSION.replace(".", "")
    assert any(tag in path.name for path in (python / "pyarrow").glob("lib.*.so"))
    # what the functions never load is gone ...
    for gone in ("pyarrow/include", "pyarrow/tests", "pygments", "hive_metastore"):
        assert not (python / gone).exists(), gone
    assert not list((python / "pyarrow").glob("libarrow_flight*"))
    # ... but not what pyarrow's lib.so links (ImportError: libarrow_substrait.so.2600)
    assert list((python / "pyarrow").glob("libarrow_substrait.so*"))
    # packages another layer or the runtime has, which must not come in a second version
    for duplicate in ("pydantic", "pydantic_core", "zstandard", "orjson", "dateutil", "urllib3",
                      "boto3"):  # fmt: skip
        assert not (python / duplicate).exists(), duplicate


def test_the_lake_tables_are_written_with_the_tested_versions() -> None:
    from importlib.metadata import version

    from infra.constructs.functions import LAKE

    lines = [line.split("#")[0].strip() for line in LAKE.requirements.read_text().splitlines()]
    pinned = {
        name.split("[")[0]: wanted for name, wanted in (line.split("==") for line in lines if line)
    }
    assert pinned == {"pyiceberg": "0.12.0", "pyarrow": "26.0.1", "pyiceberg-core": "0.10.1"}
    for name, wanted in pinned.items():
        assert version(name) == wanted, f"{name}: tests run {version(name)}, Lambda gets {wanted}"


def _megabytes(directory: Path) -> float:
    return sum(path.stat().st_size for path in directory.rglob("*") if path.is_file()) / 2**20


@pytest.mark.parametrize("spec", LAKE_FUNCTIONS, ids=lambda spec: spec.name)
def test_a_lake_function_and_its_layers_fit_lambdas_unzipped_limit(
    app: cdk.App, template: Template, spec: wiring.FunctionSpec
) -> None:
    function = function_named(template, spec.name)
    layers = resources(template, "AWS::Lambda::LayerVersion")
    ours = [
        layers[layer["Ref"]]["Properties"] for layer in function["Layers"] if layer["Ref"] in layers
    ]
    assert len(ours) == len(function["Layers"]) - 1  # all but the public Powertools layer
    sizes = {
        properties["Description"]: _megabytes(staged_code(app, properties)) for properties in ours
    }
    code = _megabytes(staged_code(app, function))
    total = code + sum(sizes.values()) + POWERTOOLS_LAYER_MB
    assert total < UNZIPPED_LIMIT_MB, (sizes, code)


def test_each_api_function_has_one_invoke_permission_and_the_stack_stays_far_from_500(
    production: Template,
) -> None:
    # CloudFormation refuses a stack of more than 500 resources; a permission per route
    # (about 140) once took the stack past it
    assert len(production.to_json()["Resources"]) < 450
    permissions = [
        resource["Properties"]
        for resource in resources(production, "AWS::Lambda::Permission").values()
        if resource["Properties"]["Principal"] == "apigateway.amazonaws.com"
    ]
    assert len(permissions) == sum(1 for spec in wiring.FUNCTIONS if spec.routes)
    for permission in permissions:
        assert permission["SourceArn"]["Fn::Join"][1][-1].endswith("/*/*")
