"""The AWS CDK application: the whole stack, built from `cdp.runtime.tables` and `infra.wiring`."""
