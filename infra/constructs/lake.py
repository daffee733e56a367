"""The data lake: Iceberg tables under `s3://<lake bucket>/tables`, registered in a Glue
database, queried with Athena through a workgroup whose settings callers cannot override."""

from __future__ import annotations

from aws_cdk import ArnFormat, Duration, RemovalPolicy, Stack
from aws_cdk import aws_athena as athena
from aws_cdk import aws_glue as glue
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from constructs import Construct

from infra.config import DeploymentConfig
from infra.constructs.checks import acknowledge, logical_id

# Below this prefix of the lake bucket: one folder per table (Athena's VACUUM refuses a table
# at the bucket's root).
TABLES_PREFIX = "tables"
# Query results are read back at once (`cdp sql`); they hold personal data, so they go soon.
RESULTS_DAYS = 1


def _private_bucket(
    scope: Construct, id: str, *, config: DeploymentConfig, lifecycle: list[s3.LifecycleRule]
) -> s3.Bucket:
    """Encrypted with S3's keys like the import bucket, never public, HTTPS only. Unversioned:
    a deleted object is gone, which erasure relies on (a versioned bucket keeps it as a
    noncurrent version)."""
    return s3.Bucket(
        scope,
        id,
        encryption=s3.BucketEncryption.S3_MANAGED,
        enforce_ssl=True,
        block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
        versioned=False,
        lifecycle_rules=lifecycle,
        removal_policy=RemovalPolicy.RETAIN if config.protected else RemovalPolicy.DESTROY,
        auto_delete_objects=not config.protected,
    )


class Lake(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, config: DeploymentConfig) -> None:
        super().__init__(scope, construct_id)
        # Parquet, manifests and metadata; the lake's own code expires snapshots and deletes
        # unreferenced files (cdp.lake.upkeep), so the only rule is for uploads left half done.
        self.bucket = _private_bucket(
            self,
            "Bucket",
            config=config,
            lifecycle=[s3.LifecycleRule(abort_incomplete_multipart_upload_after=Duration.days(1))],
        )
        acknowledge(
            self.bucket,
            "AwsSolutions-S1",
            "written and read only by the lake's functions and Athena, whose calls CloudTrail "
            "records; enable CloudTrail data events on it to audit object access",
        )
        self.results_bucket = _private_bucket(
            self,
            "QueryResults",
            config=config,
            lifecycle=[
                s3.LifecycleRule(
                    expiration=Duration.days(RESULTS_DAYS),
                    abort_incomplete_multipart_upload_after=Duration.days(1),
                )
            ],
        )
        acknowledge(
            self.results_bucket,
            "AwsSolutions-S1",
            f"Athena's query results, expired after {RESULTS_DAYS} day(s); Athena's query "
            "history records who ran which query",
        )

        # Glue and Athena names are unique in an account and region: one per stage.
        stage = config.stage.replace("-", "_")
        self.database_name = f"cdp_{stage}"
        self.database = glue.CfnDatabase(
            self,
            "Database",
            catalog_id=Stack.of(self).account,
            database_input=glue.CfnDatabase.DatabaseInputProperty(
                name=self.database_name,
                description="The data lake's Iceberg tables (events, profiles, identities)",
                # Tables made without a location (pyiceberg's, Athena's) go below it.
                location_uri=self.warehouse,
            ),
        )
        self.database.apply_removal_policy(
            RemovalPolicy.RETAIN if config.protected else RemovalPolicy.DESTROY
        )

        self.workgroup_name = f"cdp-{config.stage}"
        self.workgroup = athena.CfnWorkGroup(
            self,
            "Workgroup",
            name=self.workgroup_name,
            description="Queries over the data lake (cdp sql)",
            # It keeps no data of its own (results are in the bucket): it may go with the stack.
            recursive_delete_option=True,
            work_group_configuration=athena.CfnWorkGroup.WorkGroupConfigurationProperty(
                # A query cannot choose another result location or lift the scan limit.
                enforce_work_group_configuration=True,
                engine_version=athena.CfnWorkGroup.EngineVersionProperty(
                    selected_engine_version="Athena engine version 3"
                ),
                bytes_scanned_cutoff_per_query=config.lake_query_scan_limit_mb * 1024 * 1024,
                publish_cloud_watch_metrics_enabled=True,
                result_configuration=athena.CfnWorkGroup.ResultConfigurationProperty(
                    output_location=self.results_bucket.s3_url_for_object("results/"),
                    encryption_configuration=athena.CfnWorkGroup.EncryptionConfigurationProperty(
                        encryption_option="SSE_S3"
                    ),
                ),
            ),
        )

    @property
    def warehouse(self) -> str:
        """Where the tables are: `LAKE_WAREHOUSE` of the lake's functions."""
        return self.bucket.s3_url_for_object(TABLES_PREFIX)

    def grant(self, role: iam.IRole, *, write: bool = True) -> None:
        """Read the tables' files and the tables of the lake's own Glue database; with
        `write`, also write and delete the files and create and update the tables. Nothing
        else of S3 or Glue (the database is the stack's: cdp.lake asks whether it exists
        before it would create one)."""
        stack = Stack.of(self)
        objects = self.bucket.arn_for_objects(f"{TABLES_PREFIX}/*")
        writes = ["s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload"]
        role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["s3:GetObject", *(writes if write else [])], resources=[objects]
            )
        )
        # Listing: the unreferenced-file sweep lists a table's folder, and without it S3
        # answers a missing object with 403 instead of 404. Not narrowed by `s3:prefix`,
        # which a HEAD of a missing object does not carry; the bucket holds only the lake.
        role.add_to_principal_policy(
            iam.PolicyStatement(actions=["s3:ListBucket"], resources=[self.bucket.bucket_arn])
        )

        def glue_arn(resource: str, name: str | None = None) -> str:
            return stack.format_arn(
                service="glue",
                resource=resource,
                resource_name=name,
                arn_format=ArnFormat.SLASH_RESOURCE_NAME if name else ArnFormat.NO_RESOURCE_NAME,
            )

        tables = glue_arn("table", f"{self.database_name}/*")
        role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=[
                    "glue:GetDatabase",
                    "glue:GetTable",
                    "glue:GetTables",
                    *(["glue:CreateTable", "glue:UpdateTable"] if write else []),
                ],
                # Glue authorizes a table's calls on the catalog, the database and the table.
                resources=[glue_arn("catalog"), glue_arn("database", self.database_name), tables],
            )
        )
        acknowledge(
            role,
            f"AwsSolutions-IAM5[Resource::<{logical_id(self.bucket)}.Arn>/{TABLES_PREFIX}/*]",
            "the tables' data and metadata files have names Iceberg makes up at each commit; "
            "only below the tables prefix of the lake bucket",
        )
        acknowledge(
            role,
            "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:glue:<AWS::Region>:"
            f"<AWS::AccountId>:table/{self.database_name}/*]",
            "the tables of the lake's own Glue database, made by the lake's code at first use",
        )
