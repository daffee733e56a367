"""The domain package of the customer data platform.

It is installed as one Python package for local use and deployed to AWS as a Lambda layer.
Nothing in it sees a Lambda event or an HTTP request except the thin adapters in `cdp.runtime.web`;
only `cdp.storage` touches the AWS SDK (botocore).
"""

__version__ = "0.1.0"
