"""The workbench: the `cdp` command line and `cdp dev` (the whole platform on one machine).

Never deployed: the Lambda layer holds only `layers/cdp`, what runs in Lambda."""
