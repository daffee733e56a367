"""Console sign-in in `cdp dev`: the Hosted UI's code flow with PKCE and API Gateway's JWT
authorizer, played on moto's Cognito (workbench.local.signin)."""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import boto3
import pytest

from cdp.access.roles import user_of
from workbench.local.signin import LocalSignIn

CALLBACK = "http://127.0.0.1:8080/console/callback"
VERIFIER = "v" * 20 + "-the-page-keeps-this-to-itself-" + "v" * 20


@pytest.fixture
def signin(aws_credentials: None) -> Iterator[LocalSignIn]:
    from moto import mock_aws

    with mock_aws():
        yield LocalSignIn(boto3.client("cognito-idp", region_name="us-east-1"))


def request(signin: LocalSignIn, verifier: str = VERIFIER) -> dict[str, str]:
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
    return {
        "response_type": "code",
        "client_id": signin.client_id,
        "redirect_uri": CALLBACK,
        "state": "s-1",
        "code_challenge": challenge.decode().rstrip("="),
        "code_challenge_method": "S256",
    }


def sign_in(signin: LocalSignIn, role: str, **changes: str) -> dict[str, Any]:
    """The page's whole flow: the form, the code, the tokens."""
    account = next(account for account in signin.accounts if account.role == role)
    form = {**request(signin), "username": account.email, "password": account.password}
    status, headers, _ = signin.authorize(urlencode(form).encode(), "")
    assert status == 302
    back = urlsplit(headers["location"])
    assert back.geturl().startswith(CALLBACK)
    returned = {name: values[0] for name, values in parse_qs(back.query).items()}
    assert returned["state"] == "s-1"
    exchange = {
        "grant_type": "authorization_code",
        "code": returned["code"],
        "client_id": signin.client_id,
        "redirect_uri": CALLBACK,
        "code_verifier": VERIFIER,
        **changes,
    }
    status, _, body = signin.token(urlencode(exchange).encode(), "")
    return {"status": status, **json.loads(body)}


@pytest.mark.parametrize("role", ["viewer", "editor", "admin"])
def test_each_account_signs_in_with_its_role(signin: LocalSignIn, role: str) -> None:
    tokens = sign_in(signin, role)

    assert tokens["status"] == 200
    claims = signin.claims(f"Bearer {tokens['id_token']}")
    user = user_of(claims)
    assert (user.role, user.name) == (role, f"{role}@console.local")
    assert claims is not None
    assert claims["cognito:groups"] == f"[{role}]"  # as API Gateway passes an array claim


def test_the_sign_in_form_asks_and_refuses_a_wrong_password(signin: LocalSignIn) -> None:
    status, headers, page = signin.authorize(b"", urlencode(request(signin)))
    assert status == 200
    assert b'name="code_challenge"' in page
    assert "frame-ancestors 'none'" in headers["content-security-policy"]

    form = {**request(signin), "username": "admin@console.local", "password": "guess"}
    status, _, page = signin.authorize(urlencode(form).encode(), "")
    assert status == 401
    assert b"Incorrect user name or password." in page


@pytest.mark.parametrize(
    "changes",
    [
        {"code_verifier": "another verifier, not the one the challenge was made of"},
        {"redirect_uri": "http://evil.example/console/callback"},
        {"client_id": "another-client"},
        {"grant_type": "password"},
    ],
)
def test_a_code_is_only_for_its_own_request(signin: LocalSignIn, changes: dict[str, str]) -> None:
    assert sign_in(signin, "viewer", **changes) == {"status": 400, "error": "invalid_grant"}


def test_a_code_is_exchanged_once(signin: LocalSignIn) -> None:
    account = signin.accounts[0]
    form = {**request(signin), "username": account.email, "password": account.password}
    _, headers, _ = signin.authorize(urlencode(form).encode(), "")
    code = parse_qs(urlsplit(headers["location"]).query)["code"][0]
    exchange = urlencode(
        {
            "grant_type": "authorization_code",
            "code": code,
            "client_id": signin.client_id,
            "redirect_uri": CALLBACK,
            "code_verifier": VERIFIER,
        }
    ).encode()

    assert signin.token(exchange, "")[0] == 200
    assert signin.token(exchange, "")[0] == 400


@pytest.mark.parametrize(
    "request_change",
    [
        {"code_challenge_method": "plain"},
        {"code_challenge": ""},
        {"client_id": "another-client"},
        {"response_type": "token"},
    ],
)
def test_an_authorization_request_without_pkce_or_of_another_client_is_refused(
    signin: LocalSignIn, request_change: dict[str, str]
) -> None:
    status, _, _ = signin.authorize(b"", urlencode({**request(signin), **request_change}))

    assert status == 400


def test_the_authorizer_takes_only_this_pools_unaltered_tokens(signin: LocalSignIn) -> None:
    token = sign_in(signin, "admin")["id_token"]
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    forged = base64.urlsafe_b64encode(
        json.dumps({**claims, "cognito:groups": ["admin", "owner"]}).encode()
    )

    assert signin.claims(f"Bearer {token}") is not None
    assert signin.claims(None) is None
    assert signin.claims(token) is None  # not as a Bearer token
    assert signin.claims(f"Bearer {header}.{forged.decode().rstrip('=')}.{signature}") is None
    assert signin.claims("Bearer not-a-token") is None
