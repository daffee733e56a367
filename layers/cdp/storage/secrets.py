"""Secrets from AWS Secrets Manager (the identity-verification key, the suppression pepper),
through Powertools parameters: fetched on first use and cached for five minutes."""

from __future__ import annotations

from collections.abc import Callable


def secret(name: str) -> Callable[[], str]:
    """A function answering the secret's current value (cached; rotations arrive within
    five minutes)."""

    def value() -> str:
        from aws_lambda_powertools.utilities import parameters

        text: str = parameters.get_secret(name, max_age=300)
        return text

    return value
