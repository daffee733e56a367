"""Typed errors of the domain. Each is mapped to an HTTP answer once, in `cdp.runtime.web`."""

from __future__ import annotations


class CdpError(Exception):
    """An error whose message is written for the person who sent the request."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidRequestError(CdpError):
    """The request cannot be read: not JSON, wrong shape, missing fields."""

    def __init__(
        self, message: str, details: list[dict[str, object]] | dict[str, str] | None = None
    ) -> None:
        super().__init__(message)
        # Which messages of a batch were refused (a list), or which fields are wrong (a dict).
        self.details = details or []


class RequestTooLargeError(CdpError):
    """The request or one of its messages is over a documented size limit."""


class AuthenticationError(CdpError):
    """No key, an unknown key, or a key of the wrong kind for this route."""


class ForbiddenError(CdpError):
    """A valid key, but not allowed to do this (another person's data, say)."""


class ConflictError(CdpError):
    """The thing already exists, or is in a state that forbids the change."""


class NotFoundError(CdpError):
    """The thing asked for does not exist."""


class StorageBusyError(CdpError):
    """DynamoDB kept throttling past our retry budget; the client should retry later."""

    def __init__(self, message: str, retry_after_seconds: int = 2) -> None:
        super().__init__(message)
        self.retry_after_seconds = retry_after_seconds
