"""Lambda functions built from `infra.wiring` specs, with the defaults of every function in one
place: arm64, one Python runtime, JSON logs, X-Ray, log retention, the layers."""

from __future__ import annotations

from functools import cached_property
from typing import Literal

from aws_cdk import ArnFormat, Duration, RemovalPolicy, Stack, Tags
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as sources
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_notifications as s3n
from aws_cdk import aws_scheduler as scheduler
from aws_cdk import aws_scheduler_targets as scheduler_targets
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_ssm as ssm
from aws_lambda_powertools.shared.version import VERSION as POWERTOOLS_VERSION
from constructs import Construct

from cdp.intake.bulk import CONTINUE, PREFIX
from cdp.runtime.tables import ALL_TABLES
from cdp.storage.alarms import destination_alarm_prefix
from infra.config import DeploymentConfig
from infra.constructs.bundling import ROOT, PipInstall, copied_asset, installed_asset
from infra.constructs.checks import acknowledge, logical_id
from infra.constructs.lake import Lake
from infra.constructs.secrets import Secrets
from infra.constructs.sharing import encrypted_queue
from infra.constructs.storage import Storage
from infra.wiring import (
    DESTINATION_SECRETS_ENV,
    DESTINATION_SECRETS_PATH,
    EVENT_BUS_ENV,
    IMPORT_BUCKET_ENV,
    LAKE_WAREHOUSE_ENV,
    QUEUES,
    REDRIVE_TAG,
    SECRETS,
    FunctionSpec,
    function_environment,
)

# The newest runtime whose Python the bundling finds on our machines (pyenv's 3.13): it compiles
# the bytecode the functions load, which only the same Python version reads.
RUNTIME = lambda_.Runtime.PYTHON_3_13
PYTHON_VERSION = RUNTIME.name.removeprefix("python")
ARCHITECTURE = lambda_.Architecture.ARM_64
DEPENDENCIES = PipInstall(
    ROOT / "layers" / "dependencies" / "requirements.txt",
    python_version=PYTHON_VERSION,
    architecture=ARCHITECTURE.name,
)
CODECS = PipInstall(
    ROOT / "layers" / "codecs" / "requirements.txt",
    python_version=PYTHON_VERSION,
    architecture=ARCHITECTURE.name,
)
# pyiceberg and pyarrow: 241 MB as installed, 168 MB trimmed (with bytecode), so that a lake
# function and its layers stay below Lambda's 250 MB, unzipped (asserted in tests/infra).
LAKE = PipInstall(
    ROOT / "layers" / "lake" / "requirements.txt",
    python_version=PYTHON_VERSION,
    architecture=ARCHITECTURE.name,
    prune=(
        # never loaded: C++ headers and sources, tests, Arrow Flight (RPC), the Hive
        # catalog's Thrift client, the syntax highlighter of pyiceberg's command line
        "pyarrow/include",
        "pyarrow/src",
        "**/tests",
        "pyarrow/libarrow_flight*",
        "pyarrow/_flight*",
        "hive_metastore",
        "fb303",
        "pygments",
        "pygments-*.dist-info",
        # in other layers: pydantic and its helpers in Powertools', Zstandard and orjson in
        # the codecs layer (one version of each: layers unpack into the same directory)
        "pydantic",
        "pydantic-*.dist-info",
        "pydantic_core",
        "pydantic_core-*.dist-info",
        "annotated_types",
        "annotated_types-*.dist-info",
        "typing_extensions.py",
        "typing_extensions-*.dist-info",
        "typing_inspection",
        "typing_inspection-*.dist-info",
        "zstandard",
        "zstandard-*.dist-info",
        "orjson",
        "orjson-*.dist-info",
        # the runtime's, which its boto3 needs in the versions it was built with (a layer
        # comes first on the path)
        "dateutil",
        "python_dateutil-*.dist-info",
        "urllib3",
        "urllib3-*.dist-info",
    ),
)
# The public Powertools layer of exactly the version the tests run with (it carries pydantic
# and the X-Ray SDK too), found through the public SSM parameter at deploy time.
POWERTOOLS_LAYER_PARAMETER = (
    f"/aws/service/powertools/python/arm64/{RUNTIME.name}/{POWERTOOLS_VERSION}"
)
_READ = [
    "dynamodb:GetItem",
    "dynamodb:BatchGetItem",
    "dynamodb:Query",
    "dynamodb:ConditionCheckItem",
    "dynamodb:DescribeTable",
]
_WRITE = ["dynamodb:PutItem", "dynamodb:BatchWriteItem", "dynamodb:DescribeTable"]
_ACTIONS = {
    "read": _READ,
    "write": _WRITE,
    "read_write": [
        *_READ,
        "dynamodb:PutItem",
        "dynamodb:BatchWriteItem",
        "dynamodb:UpdateItem",
        "dynamodb:DeleteItem",
    ],
    "read_delete": [*_READ, "dynamodb:BatchWriteItem", "dynamodb:DeleteItem"],
}


# CDK's singleton that puts bucket notification configurations (aws-s3 notifications).
_NOTIFICATIONS_HANDLER = "BucketNotificationsHandler050a0587b7544547bf325f094a3db834"


_RETENTION = {
    7: logs.RetentionDays.ONE_WEEK,
    14: logs.RetentionDays.TWO_WEEKS,
    30: logs.RetentionDays.ONE_MONTH,
    60: logs.RetentionDays.TWO_MONTHS,
    90: logs.RetentionDays.THREE_MONTHS,
    180: logs.RetentionDays.SIX_MONTHS,
    365: logs.RetentionDays.ONE_YEAR,
}


class FunctionFactory(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: DeploymentConfig,
        storage: Storage,
        lake: Lake,
        bus: events.IEventBus,
        secrets: Secrets,
    ) -> None:
        super().__init__(scope, construct_id)
        self.config = config
        self.storage = storage
        self.lake = lake
        self.bus = bus
        self.secrets = secrets
        self.failure_queues: dict[str, sqs.Queue] = {}
        # Task queues, each with a dead-letter queue for tasks that keep failing.
        self.queues: dict[str, sqs.Queue] = {}
        self.dead_letters: dict[str, sqs.Queue] = {}
        for queue in QUEUES:
            dead_letters = encrypted_queue(
                self, f"{queue.logical_name}-dead-letters", fifo=queue.fifo
            )
            acknowledge(dead_letters, "AwsSolutions-SQS3", "it is a dead-letter queue")
            Tags.of(dead_letters).add(REDRIVE_TAG, f"queue:{queue.logical_name}")
            self.dead_letters[f"{queue.logical_name}-dead-letters"] = dead_letters
            self.queues[queue.logical_name] = encrypted_queue(
                self,
                f"{queue.logical_name}-queue",
                visibility_timeout=Duration.seconds(queue.visibility_timeout_seconds),
                dead_letter_queue=sqs.DeadLetterQueue(
                    queue=dead_letters, max_receive_count=queue.max_receive_count
                ),
                fifo=queue.fifo,
            )
        # One code asset for every function (they differ by handler string) ...
        self.code = lambda_.Code.from_asset(
            **copied_asset(ROOT / "functions", "functions", python=PYTHON_VERSION)
        )
        # ... and the domain package as a layer, without the local runtime and the CLI.
        self.domain_layer = lambda_.LayerVersion(
            self,
            "DomainLayer",
            code=lambda_.Code.from_asset(
                **copied_asset(ROOT / "layers" / "cdp", "python/cdp", python=PYTHON_VERSION)
            ),
            compatible_runtimes=[RUNTIME],
            compatible_architectures=[ARCHITECTURE],
            description="cdp domain package",
        )
        # Third-party packages beyond the runtime and Powertools, for the functions that need them.
        self.dependencies_layer = self._installed_layer(
            "DependenciesLayer", DEPENDENCIES, "third-party packages"
        )
        # Zstandard and orjson, which every function that reads a request or an event needs.
        self.codecs_layer = self._installed_layer("CodecsLayer", CODECS, "Zstandard and orjson")
        self.powertools_layer = lambda_.LayerVersion.from_layer_version_arn(
            self,
            "PowertoolsLayer",
            ssm.StringParameter.value_for_string_parameter(self, POWERTOOLS_LAYER_PARAMETER),
        )

    @cached_property
    def lake_layer(self) -> lambda_.LayerVersion:
        """pyiceberg and pyarrow, for the functions that read and write the lake (made with
        the first of them: the others never carry it)."""
        return self._installed_layer("LakeLayer", LAKE, "the data lake's Iceberg and Arrow")

    def _installed_layer(self, id: str, packages: PipInstall, what: str) -> lambda_.LayerVersion:
        """A layer of the packages a requirements file names, installed for Lambda's platform."""
        return lambda_.LayerVersion(
            self,
            id,
            code=lambda_.Code.from_asset(**installed_asset(packages)),
            compatible_runtimes=[RUNTIME],
            compatible_architectures=[ARCHITECTURE],
            description=f"{what} ({packages.requirements.relative_to(ROOT)})",
        )

    def environment(self, spec: FunctionSpec) -> dict[str, str]:
        # The lake's Glue database is named per stage (`cdp dev` keeps the default, `cdp`).
        settings = {**self.config.function_settings(), "lake_database": self.lake.database_name}
        return function_environment(spec, self.resources, settings)

    @cached_property
    def resources(self) -> dict[str, str]:
        """Every resource a function may name in its environment, by variable (tokens)."""
        return {
            **{table.env_var: self.storage.table(table).table_name for table in ALL_TABLES},
            **{queue.env_var: self.queues[queue.logical_name].queue_url for queue in QUEUES},
            EVENT_BUS_ENV: self.bus.event_bus_name,
            **{secret.env_var: self.secrets.secret(secret).secret_name for secret in SECRETS},
            IMPORT_BUCKET_ENV: self.storage.import_bucket.bucket_name,
            DESTINATION_SECRETS_ENV: self.destination_secret_prefix,
            LAKE_WAREHOUSE_ENV: self.lake.warehouse,
        }

    @cached_property
    def destination_secret_prefix(self) -> str:
        """Where destinations' secrets live in Secrets Manager: below the stack's name, so two
        stacks in one account keep theirs apart."""
        return f"{Stack.of(self).stack_name}/{DESTINATION_SECRETS_PATH}"

    def build(self, spec: FunctionSpec) -> lambda_.Function:
        log_group = logs.LogGroup(
            self,
            f"{spec.name}-logs",
            retention=_RETENTION[self.config.log_retention_days],
            removal_policy=RemovalPolicy.DESTROY,
        )
        # An explicit role: its own log group and nothing else by default (no AWS managed
        # policy, whose log permissions cover every log group of the account).
        role = iam.Role(
            self,
            f"{spec.name}-role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=f"{spec.name}: {spec.description}",
        )
        log_group.grant_write(role)
        function = lambda_.Function(
            self,
            spec.name,
            description=spec.description,
            code=self.code,
            handler=spec.handler,
            runtime=RUNTIME,
            architecture=ARCHITECTURE,
            layers=[
                self.powertools_layer,
                self.codecs_layer,
                *([self.dependencies_layer] if spec.third_party else []),
                *([self.lake_layer] if spec.lake else []),
                self.domain_layer,
            ],
            memory_size=spec.memory_mb,
            timeout=Duration.seconds(spec.timeout_seconds),
            environment=self.environment(spec),
            tracing=lambda_.Tracing.ACTIVE,
            logging_format=lambda_.LoggingFormat.JSON,
            log_group=log_group,
            role=role,
            reserved_concurrent_executions=spec.reserved_concurrency,
        )
        acknowledge(
            function,
            "AwsSolutions-L1",
            f"{RUNTIME.name}, not the newest runtime: the bundling compiles the bytecode the "
            "function loads with the runtime's Python, and ours carry 3.13 (supported to 2029)",
        )
        acknowledge(
            role,
            "AwsSolutions-IAM5[Resource::*]",
            "X-Ray's PutTraceSegments and PutTelemetryRecords have no resource-level "
            "permissions; it is the only statement on every resource",
        )
        self._grant_tables(function, spec)
        if spec.lake:
            self.lake.grant(role, write=spec.lake == "write")
        self._connect(function, spec)
        return function

    def _grant_tables(self, function: lambda_.Function, spec: FunctionSpec) -> None:
        """Exactly the actions each function needs, table by table (asserted in tests)."""
        for table_spec, access in spec.tables:
            table = self.storage.table(table_spec)
            actions = _ACTIONS[access] + (["dynamodb:Scan"] if table_spec in spec.scans else [])
            table.grant(function, *actions)
            if table_spec.indexes:
                assert function.role is not None  # build() gives every function its own role
                acknowledge(
                    function.role,
                    f"AwsSolutions-IAM5[Resource::<{logical_id(table)}.Arn>/index/*]",
                    f"the same actions on the {table_spec.logical_name} table's own indexes "
                    "(`due`: the scheduler's sparse index)",
                )

    def _connect(self, function: lambda_.Function, spec: FunctionSpec) -> None:
        """Event sources, queues, the bus, secrets and schedules of one function."""
        if spec.stream is not None:
            self._subscribe(function, spec)
        if spec.queue is not None:
            function.add_event_source(
                sources.SqsEventSource(
                    self.queues[spec.queue.queue.logical_name],
                    batch_size=spec.queue.batch_size,
                    report_batch_item_failures=True,
                )
            )
            if spec.queue.sets_visibility:
                self.queues[spec.queue.queue.logical_name].grant(
                    function, "sqs:ChangeMessageVisibility"
                )
        for queue in spec.sends_to:
            self.queues[queue.logical_name].grant_send_messages(function)
        if spec.publishes_events:
            self.bus.grant_put_events_to(function)
        if spec.reads_metrics:
            # GetMetricData cannot be limited to a namespace or resource.
            function.add_to_role_policy(
                iam.PolicyStatement(actions=["cloudwatch:GetMetricData"], resources=["*"])
            )
            assert function.role is not None
            acknowledge(
                function.role,
                "AwsSolutions-IAM5[Resource::*]",
                "cloudwatch:GetMetricData takes no resource; it reads the functions' metrics",
            )
        for secret in spec.secrets:
            self.secrets.secret(secret).grant_read(function)
        if spec.destination_secrets is not None:
            self._grant_destination_secrets(function, spec.destination_secrets)
        for permission in spec.permissions:
            function.add_to_role_policy(
                iam.PolicyStatement(
                    actions=list(permission.actions),
                    resources=[
                        Stack.of(self).format_arn(
                            service=permission.service,
                            resource=permission.resource,
                            arn_format=ArnFormat.NO_RESOURCE_NAME,
                        )
                    ],
                )
            )
            assert function.role is not None
            acknowledge(
                function.role,
                f"AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:{permission.service}:"
                f"<AWS::Region>:<AWS::AccountId>:{permission.resource}]",
                "the connector's calls name the list in the destination's settings, which "
                "people set after the deployment",
            )
        if spec.imports:
            bucket = self.storage.import_bucket
            # Read the files and write progress, rejects and continue markers beside them.
            function.add_to_role_policy(
                iam.PolicyStatement(
                    actions=["s3:GetObject", "s3:PutObject"],
                    resources=[bucket.arn_for_objects(f"{PREFIX}*")],
                )
            )
            assert function.role is not None
            acknowledge(
                function.role,
                f"AwsSolutions-IAM5[Resource::<{logical_id(bucket)}.Arn>/{PREFIX}*]",
                "files arrive under any name below imports/; only get and put on them",
            )
            for suffix in (".csv", ".jsonl", ".ndjson", CONTINUE):
                bucket.add_event_notification(
                    s3.EventType.OBJECT_CREATED,
                    s3n.LambdaDestination(function),
                    s3.NotificationKeyFilter(prefix=PREFIX, suffix=suffix),
                )
            self._acknowledge_notifications_handler()
        if spec.every_minutes:
            invoker = iam.Role(
                self,
                f"{spec.name}-scheduler-role",
                assumed_by=iam.ServicePrincipal("scheduler.amazonaws.com"),
                description=f"EventBridge Scheduler runs {spec.name}",
            )
            scheduler.Schedule(
                self,
                f"{spec.name}-schedule",
                schedule=scheduler.ScheduleExpression.rate(Duration.minutes(spec.every_minutes)),
                target=scheduler_targets.LambdaInvoke(
                    function, role=invoker, retry_attempts=2, max_event_age=Duration.minutes(10)
                ),
                description=spec.description,
            )
            acknowledge(
                invoker,
                f"AwsSolutions-IAM5[Resource::<{logical_id(function)}.Arn>:*]",
                "the scheduler may invoke this one function, in any of its versions",
            )

    def _grant_destination_secrets(
        self, function: lambda_.Function, access: Literal["read", "manage"]
    ) -> None:
        """Destinations' secrets are made at run time, by the admin API: the grant covers the
        names below the stack's prefix, and nothing else."""
        actions = ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"]
        if access == "manage":
            actions += [
                "secretsmanager:CreateSecret",
                "secretsmanager:PutSecretValue",
                "secretsmanager:DeleteSecret",
                "secretsmanager:TagResource",
            ]
        stack = Stack.of(self)
        pattern = f"secret:{self.destination_secret_prefix}*"
        function.add_to_role_policy(
            iam.PolicyStatement(
                actions=actions,
                resources=[
                    stack.format_arn(
                        service="secretsmanager",
                        resource=pattern,
                        arn_format=ArnFormat.NO_RESOURCE_NAME,
                    )
                ],
            )
        )
        assert function.role is not None
        acknowledge(
            function.role,
            "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:secretsmanager:<AWS::Region>:"
            f"<AWS::AccountId>:secret:{self.destination_secret_prefix}*]",
            "each destination's secret is made when the destination is; the names below the "
            "stack's own prefix, and no other secret",
        )

    def manage_destination_alarms(self, function: lambda_.Function, topic: sns.ITopic) -> None:
        """The admin API makes and deletes each destination's alarms (named below the same
        prefix as their secrets), to the stack's alarm topic."""
        function.add_environment("ALARM_TOPIC_ARN", topic.topic_arn)
        stack = Stack.of(self)
        prefix = destination_alarm_prefix(self.destination_secret_prefix)
        function.add_to_role_policy(
            iam.PolicyStatement(
                actions=["cloudwatch:PutMetricAlarm", "cloudwatch:DeleteAlarms"],
                resources=[
                    stack.format_arn(
                        service="cloudwatch",
                        resource="alarm",
                        resource_name=f"{prefix}*",
                        arn_format=ArnFormat.COLON_RESOURCE_NAME,
                    )
                ],
            )
        )
        assert function.role is not None
        acknowledge(
            function.role,
            "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:cloudwatch:<AWS::Region>:"
            f"<AWS::AccountId>:alarm:{prefix}*]",
            "each destination's alarms are made when the destination is; only alarms named "
            "below the stack's destination prefix",
        )

    def _acknowledge_notifications_handler(self) -> None:
        """CDK's own function that configures bucket notifications at deploy time."""
        handler = Stack.of(self).node.try_find_child(_NOTIFICATIONS_HANDLER)
        assert handler is not None, "CDK renamed its bucket notifications handler"
        acknowledge(
            handler,
            "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/"
            "AWSLambdaBasicExecutionRole]",
            "CDK's deploy-time handler for bucket notifications; it writes only its own logs",
        )

    def _subscribe(self, function: lambda_.Function, spec: FunctionSpec) -> None:
        """The stream's event source mapping: partial batch failures, bisection on error,
        bounded retries and record age, and an SQS queue for what still fails (it receives
        the shard and sequence range to redrive, not the records themselves)."""
        assert spec.stream is not None
        failures = encrypted_queue(self, f"{spec.name}-failures")
        acknowledge(
            failures,
            "AwsSolutions-SQS3",
            "it is the dead-letter destination of a stream event source mapping",
        )
        self.failure_queues[spec.name] = failures
        # How `cdp redrive` finds the queue, and the function to give the records back to.
        Tags.of(failures).add(REDRIVE_TAG, f"stream:{spec.name}")
        source = spec.stream
        function.add_event_source(
            sources.DynamoEventSource(
                self.storage.table(source.table),
                starting_position=lambda_.StartingPosition.TRIM_HORIZON,
                batch_size=source.batch_size,
                max_batching_window=Duration.seconds(source.batching_window_seconds),
                bisect_batch_on_error=True,
                retry_attempts=source.retry_attempts,
                max_record_age=Duration.seconds(source.max_record_age_seconds),
                parallelization_factor=source.parallelization_factor,
                report_batch_item_failures=True,
                on_failure=sources.SqsDlq(failures),
            )
        )
