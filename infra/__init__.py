"""The AWS CDK application: the whole stack, built from `cdp.tables` and `cdp.wiring`."""
