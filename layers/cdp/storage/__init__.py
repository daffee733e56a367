"""Everything that talks to DynamoDB. The only modules of the package that import boto3."""
