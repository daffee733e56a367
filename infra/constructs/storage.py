"""DynamoDB tables, one per `cdp.runtime.tables` spec: on-demand, point-in-time recovery, TTL,
streams, and deletion protection outside the dev stage."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_s3 as s3
from constructs import Construct

from cdp.runtime import tables
from infra.config import DeploymentConfig
from infra.constructs.checks import acknowledge


def _attribute(key: tables.Key) -> dynamodb.Attribute:
    kind = {"S": dynamodb.AttributeType.STRING, "N": dynamodb.AttributeType.NUMBER}
    return dynamodb.Attribute(name=key.name, type=kind.get(key.type, dynamodb.AttributeType.BINARY))


class Storage(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, config: DeploymentConfig) -> None:
        super().__init__(scope, construct_id)
        self.tables: dict[str, dynamodb.TableV2] = {}
        for spec in tables.ALL_TABLES:
            self.tables[spec.logical_name] = dynamodb.TableV2(
                self,
                spec.logical_name,
                partition_key=_attribute(spec.partition_key),
                sort_key=_attribute(spec.sort_key) if spec.sort_key else None,
                billing=dynamodb.Billing.on_demand(),
                time_to_live_attribute=spec.ttl_attribute,
                dynamo_stream=dynamodb.StreamViewType[spec.stream] if spec.stream else None,
                point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                    point_in_time_recovery_enabled=True
                ),
                encryption=dynamodb.TableEncryptionV2.aws_managed_key(),
                deletion_protection=config.protected,
                removal_policy=(
                    cdk.RemovalPolicy.RETAIN if config.protected else cdk.RemovalPolicy.DESTROY
                ),
                global_secondary_indexes=[
                    dynamodb.GlobalSecondaryIndexPropsV2(
                        index_name=index.name,
                        partition_key=_attribute(index.partition_key),
                        sort_key=_attribute(index.sort_key) if index.sort_key else None,
                        projection_type=dynamodb.ProjectionType[index.projection],
                    )
                    for index in spec.indexes
                ]
                or None,
            )

        # Files for server-side imports: transient (they hold personal data), never public.
        self.import_bucket = s3.Bucket(
            self,
            "Imports",
            encryption=s3.BucketEncryption.S3_MANAGED,
            enforce_ssl=True,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            lifecycle_rules=[
                s3.LifecycleRule(expiration=Duration.days(config.import_retention_days))
            ],
            removal_policy=RemovalPolicy.RETAIN if config.protected else RemovalPolicy.DESTROY,
            auto_delete_objects=not config.protected,
        )
        acknowledge(
            self.import_bucket,
            "AwsSolutions-S1",
            "a transient drop box: files expire after import_retention_days; enable CloudTrail "
            "data events on it to audit access",
        )

    def table(self, spec: tables.TableSpec) -> dynamodb.TableV2:
        return self.tables[spec.logical_name]
