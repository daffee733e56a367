"""The data lake: every stored event and the current state of every profile in Apache Iceberg
tables (`tables`), written from the DynamoDB streams exactly once in effect (`rows`,
`writer`), kept tidy, within retention and erasable (`upkeep`).

The same code runs in AWS (Glue catalog, S3) and in `cdp dev` (a SQLite catalog on disk).
It needs pyarrow and pyiceberg: nothing outside this package imports it at module level, so
the other functions' cold starts do not grow.
"""
