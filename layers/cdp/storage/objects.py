"""The import bucket (S3)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any


class Bucket:
    def __init__(self, name: str, *, client: Any) -> None:
        self.name = name
        self.client = client

    def lines(self, key: str) -> Iterable[bytes]:
        body = self.client.get_object(Bucket=self.name, Key=key)["Body"]
        yield from body.iter_lines(keepends=True)

    def modified(self, key: str) -> datetime:
        modified: datetime = self.client.head_object(Bucket=self.name, Key=key)["LastModified"]
        return modified

    def text(self, key: str) -> str | None:
        try:
            body = self.client.get_object(Bucket=self.name, Key=key)["Body"]
        except self.client.exceptions.NoSuchKey:
            return None
        text: str = body.read().decode("utf-8")
        return text

    def write(self, key: str, text: str) -> None:
        self.client.put_object(
            Bucket=self.name, Key=key, Body=text.encode(), ContentType="application/json"
        )
