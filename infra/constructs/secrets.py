"""Secrets the functions read (never in code or environment values): generated at deploy
time, one per `infra.wiring.SECRETS` entry."""

from __future__ import annotations

from aws_cdk import RemovalPolicy
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from infra.config import DeploymentConfig
from infra.constructs.checks import acknowledge
from infra.wiring import SECRETS, SecretSpec


class Secrets(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, config: DeploymentConfig) -> None:
        super().__init__(scope, construct_id)
        self.secrets: dict[str, secretsmanager.Secret] = {
            spec.logical_name: secretsmanager.Secret(
                self,
                spec.logical_name,
                description=spec.description,
                generate_secret_string=secretsmanager.SecretStringGenerator(
                    password_length=48, exclude_punctuation=True
                ),
                removal_policy=(
                    RemovalPolicy.RETAIN if config.protected else RemovalPolicy.DESTROY
                ),
            )
            for spec in SECRETS
        }
        for secret in self.secrets.values():
            acknowledge(
                secret,
                "AwsSolutions-SMG4",
                "rotating either secret breaks what depends on it (websites' signatures, the "
                "hashes of erased people); rotate by hand as the README describes",
            )

    def secret(self, spec: SecretSpec) -> secretsmanager.Secret:
        return self.secrets[spec.logical_name]
