"""Sign-in for the console: a Cognito user pool whose groups are the console's roles, a public
app client for the page (authorization code flow with PKCE: no client secret in a browser),
the Hosted UI's domain, and the JWT authorizer API Gateway puts in front of every console API
route (`Route.signed_in`). People are invited by an admin (no self sign-up)."""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_apigatewayv2 as apigw
from aws_cdk import aws_apigatewayv2_authorizers as authorizers
from aws_cdk import aws_cognito as cognito
from constructs import Construct

from cdp.access.roles import ROLES
from infra.config import DeploymentConfig
from infra.constructs.checks import acknowledge


class ConsoleSignIn(Construct):
    def __init__(
        self, scope: Construct, construct_id: str, *, config: DeploymentConfig, api: apigw.HttpApi
    ) -> None:
        super().__init__(scope, construct_id)
        self.pool = cognito.UserPool(
            self,
            "Users",
            self_sign_up_enabled=False,
            sign_in_aliases=cognito.SignInAliases(email=True),
            standard_attributes=cognito.StandardAttributes(
                email=cognito.StandardAttribute(required=True, mutable=True)
            ),
            mfa=cognito.Mfa.OPTIONAL,
            mfa_second_factor=cognito.MfaSecondFactor(otp=True, sms=False),
            password_policy=cognito.PasswordPolicy(
                min_length=12,
                require_digits=True,
                require_lowercase=True,
                require_uppercase=True,
                require_symbols=True,
                temp_password_validity=Duration.days(3),
            ),
            account_recovery=cognito.AccountRecovery.EMAIL_ONLY,
            removal_policy=RemovalPolicy.RETAIN,
        )
        acknowledge(
            self.pool,
            "AwsSolutions-COG2",
            "MFA is offered (TOTP) and left to each organisation to require",
        )
        acknowledge(
            self.pool,
            "AwsSolutions-COG8",
            "the Plus feature plan (threat protection) is priced per user, left to each "
            "organisation to choose",
        )
        for role in ROLES:
            cognito.CfnUserPoolGroup(
                self,
                f"{role.title()}Group",
                user_pool_id=self.pool.user_pool_id,
                group_name=role,
                description=f"Console role: {role}",
            )
        # The page's addresses: it comes back from signing in to /console/callback, and from
        # signing out to /console (the page says so in its requests; Cognito wants them exact).
        pages = [f"{api.api_endpoint}/console"]
        pages += [f"https://{config.domain_name}/console"] if config.domain_name else []
        self.client = self.pool.add_client(
            "Page",
            generate_secret=False,
            auth_flows=cognito.AuthFlow(user_srp=True),
            o_auth=cognito.OAuthSettings(
                flows=cognito.OAuthFlows(authorization_code_grant=True),
                scopes=[cognito.OAuthScope.OPENID, cognito.OAuthScope.EMAIL],
                callback_urls=[f"{page}/callback" for page in pages],
                logout_urls=pages,
            ),
            prevent_user_existence_errors=True,
            id_token_validity=Duration.hours(1),
            access_token_validity=Duration.hours(1),
            refresh_token_validity=Duration.hours(12),
        )
        self.domain = self.pool.add_domain(
            "SignIn",
            cognito_domain=cognito.CognitoDomainOptions(
                domain_prefix=f"cdp-{config.stage}-{Stack.of(self).account}"
            ),
        )
        self.authorizer = authorizers.HttpUserPoolAuthorizer(
            "ConsoleUsers", self.pool, user_pool_clients=[self.client]
        )

    @property
    def sign_in_url(self) -> str:
        url: str = self.domain.base_url()
        return url
