"""`cdk synth` / `cdk deploy` entry point (see cdk.json)."""

from __future__ import annotations

import aws_cdk as cdk

from infra.config import DeploymentConfig
from infra.stack import CdpStack


def build(app: cdk.App) -> CdpStack:
    config = DeploymentConfig.model_validate(app.node.try_get_context("cdp") or {})
    return CdpStack(app, f"Cdp-{config.stage}", config=config)


def main() -> None:
    app = cdk.App()
    build(app)
    app.synth()


if __name__ == "__main__":
    main()
