"""Everything that talks to AWS. The only modules of the package that import the AWS SDK
(botocore: clients are made without boto3, see `clients`)."""
