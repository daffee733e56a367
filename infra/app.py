"""`cdk synth` / `cdk deploy` entry point (see cdk.json)."""

from __future__ import annotations

import aws_cdk as cdk

from infra.config import DeploymentConfig
from infra.stack import CdpStack


def build(app: cdk.App) -> CdpStack:
    config = DeploymentConfig.model_validate(app.node.try_get_context("cdp") or {})
    return CdpStack(app, f"Cdp-{config.stage}", config=config)


def checked(app: cdk.App) -> cdk.App:
    """The AwsSolutions rules of cdk-nag run on every synth; a finding fails it, unless it is
    acknowledged on its resource with a reason (see infra/constructs/checks.py)."""
    from cdk_nag import AwsSolutionsChecks

    cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    return app


def main() -> None:
    app = cdk.App()
    build(app)
    checked(app).synth()


if __name__ == "__main__":
    main()
