"""The import bucket (S3)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError

# S3's answers to a conditional write that lost: the condition failed, or a concurrent one won.
_SOMEONE_ELSE_WROTE = ("PreconditionFailed", "ConditionalRequestConflict")


class Bucket:
    def __init__(self, name: str, *, client: Any) -> None:
        self.name = name
        self.client = client

    def lines(self, key: str) -> Iterable[bytes]:
        body = self.client.get_object(Bucket=self.name, Key=key)["Body"]
        yield from body.iter_lines(keepends=True)

    def modified(self, key: str) -> datetime | None:
        try:
            head = self.client.head_object(Bucket=self.name, Key=key)
        except ClientError as error:
            if error.response["Error"]["Code"] in ("404", "NoSuchKey"):
                return None
            raise
        modified: datetime = head["LastModified"]
        return modified

    def text(self, key: str) -> str | None:
        found = self.tagged(key)
        return found[0] if found else None

    def tagged(self, key: str) -> tuple[str, str] | None:
        try:
            answer = self.client.get_object(Bucket=self.name, Key=key)
        except self.client.exceptions.NoSuchKey:
            return None
        return answer["Body"].read().decode("utf-8"), answer["ETag"]

    def write(self, key: str, text: str) -> None:
        self.client.put_object(Bucket=self.name, Key=key, Body=text.encode())

    def write_if(self, key: str, text: str, *, etag: str | None) -> str | None:
        condition = {"IfMatch": etag} if etag else {"IfNoneMatch": "*"}
        try:
            answer = self.client.put_object(
                Bucket=self.name, Key=key, Body=text.encode(), **condition
            )
        except ClientError as error:
            if error.response["Error"]["Code"] in (
                "PreconditionFailed",
                "ConditionalRequestConflict",
            ):
                return None
            raise
        tag: str = answer["ETag"]
        return tag
