"""Acknowledging a cdk-nag (AwsSolutions) finding on one construct, with the reason beside it.

cdk-nag 3 reports through CDK's policy validation; an acknowledgment must name the pack
(`AwsSolutions::`), or it silently matches nothing.
"""

from __future__ import annotations

from aws_cdk import Acknowledgment, CfnElement, Stack, Validations
from constructs import IConstruct


def acknowledge(construct: IConstruct, finding: str, reason: str) -> None:
    Validations.of(construct).acknowledge(
        Acknowledgment(id=f"AwsSolutions::{finding}", reason=reason)
    )


def logical_id(construct: IConstruct) -> str:
    """The logical id of a construct's CloudFormation resource, as findings name it
    (`<LakeBucketB1D32E10.Arn>`)."""
    child = construct.node.default_child
    assert isinstance(child, CfnElement), f"{construct.node.path} has no CloudFormation resource"
    return Stack.of(construct).get_logical_id(child)
