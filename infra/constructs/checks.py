"""Acknowledging a cdk-nag (AwsSolutions) finding on one construct, with the reason beside it.

cdk-nag 3 reports through CDK's policy validation; an acknowledgment must name the pack
(`AwsSolutions::`), or it silently matches nothing.
"""

from __future__ import annotations

from aws_cdk import Acknowledgment, Validations
from constructs import IConstruct


def acknowledge(construct: IConstruct, finding: str, reason: str) -> None:
    Validations.of(construct).acknowledge(
        Acknowledgment(id=f"AwsSolutions::{finding}", reason=reason)
    )
