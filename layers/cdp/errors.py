"""Typed errors of the domain. Each is mapped to an HTTP answer once, in `cdp.web`."""

from __future__ import annotations


class CdpError(Exception):
    """An error whose message is written for the person who sent the request."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidRequestError(CdpError):
    """The request cannot be read: not JSON, wrong shape, missing fields."""

    def __init__(self, message: str, details: list[dict[str, object]] | None = None) -> None:
        super().__init__(message)
        self.details = details or []


class RequestTooLargeError(CdpError):
    """The request or one of its messages is over a documented size limit."""


class AuthenticationError(CdpError):
    """No key, an unknown key, or a key of the wrong kind for this route."""


class NotFoundError(CdpError):
    """The thing asked for does not exist."""


class StorageBusyError(CdpError):
    """DynamoDB kept throttling past our retry budget; the client should retry later."""

    def __init__(self, message: str, retry_after_seconds: int = 2) -> None:
        super().__init__(message)
        self.retry_after_seconds = retry_after_seconds
