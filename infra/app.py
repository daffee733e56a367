"""`cdk synth` / `cdk deploy` entry point (see cdk.json)."""

from __future__ import annotations

import aws_cdk as cdk

from infra.config import DeploymentConfig
from infra.stack import CdpStack


def build(app: cdk.App) -> CdpStack:
    """The stack of one stage. `-c stage=prod` picks the stage; the `cdp` context holds the
    configuration every stage shares, and `cdp.<stage>` what differs for that stage."""
    shared = dict(app.node.try_get_context("cdp") or {})
    stage = app.node.try_get_context("stage") or shared.get("stage", "dev")
    overrides = app.node.try_get_context(f"cdp.{stage}") or {}
    config = DeploymentConfig.model_validate({**shared, **overrides, "stage": stage})
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
