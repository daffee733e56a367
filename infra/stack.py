"""The stack: one construct per concern, resources passed between them explicitly."""

from __future__ import annotations

import aws_cdk as cdk
from constructs import Construct

from infra import wiring
from infra.config import DeploymentConfig
from infra.constructs.api import HttpApiFront
from infra.constructs.cdn import Cdn
from infra.constructs.functions import FunctionFactory
from infra.constructs.lake import Lake
from infra.constructs.observability import Observability
from infra.constructs.secrets import Secrets
from infra.constructs.sharing import Sharing
from infra.constructs.storage import Storage


class CdpStack(cdk.Stack):
    def __init__(self, scope: Construct, construct_id: str, *, config: DeploymentConfig) -> None:
        super().__init__(scope, construct_id, description="Serverless customer data platform")
        storage = Storage(self, "Storage", config=config)
        sharing = Sharing(self, "Sharing", config=config)
        secrets = Secrets(self, "Secrets", config=config)
        lake = Lake(self, "Lake", config=config)
        factory = FunctionFactory(
            self,
            "Functions",
            config=config,
            storage=storage,
            lake=lake,
            bus=sharing.bus,
            secrets=secrets,
        )
        functions = {spec.name: factory.build(spec) for spec in wiring.FUNCTIONS}
        api = HttpApiFront(self, "Api", config=config, functions=functions)
        # Known once the API is: its address is the sign-in's callback.
        functions[wiring.CONSOLE.name].add_environment("SIGN_IN_URL", api.console.sign_in_url)
        functions[wiring.CONSOLE.name].add_environment(
            "CONSOLE_CLIENT_ID", api.console.client.user_pool_client_id
        )
        cdn = Cdn(self, "Cdn", api=api.api)
        observability = Observability(
            self,
            "Observability",
            config=config,
            functions=functions,
            queues={**factory.dead_letters, **factory.failure_queues, **sharing.failure_queues},
            tables=storage.tables,
            api=api.api,
        )
        # Destinations are data: the admin API makes each one's alarms, to the stack's topic.
        factory.manage_destination_alarms(functions[wiring.ADMIN_API.name], observability.topic)
        cdk.CfnOutput(self, "ApiUrl", value=api.url, description="Base URL of the API")
        cdk.CfnOutput(
            self,
            "CdnUrl",
            value=cdn.url,
            description="The API through CloudFront, the tracker's scripts cached at the edge: "
            "the address for the loader stub",
        )
        cdk.CfnOutput(self, "EventBusName", value=sharing.bus.event_bus_name)
        cdk.CfnOutput(
            self,
            "ConsoleUserPoolId",
            value=api.console.pool.user_pool_id,
            description="The console's people: invite them here and add them to a role's group",
        )
        cdk.CfnOutput(
            self,
            "ImportBucketName",
            value=storage.import_bucket.bucket_name,
            description="Drop files under imports/<source>/ to import them server-side",
        )
        cdk.CfnOutput(
            self,
            "LakeDatabaseName",
            value=lake.database_name,
            description="The data lake's Glue database: Athena's database for `cdp sql`",
        )
        cdk.CfnOutput(
            self,
            "LakeWorkgroupName",
            value=lake.workgroup_name,
            description="The Athena workgroup for `cdp sql` (results bucket, scan limit)",
        )
        cdk.CfnOutput(
            self,
            "LakeWarehouse",
            value=lake.warehouse,
            description="Where the data lake's Iceberg tables are",
        )
