"""Signing in to the console against `cdp dev`, over HTTP, as the page does: the sign-in form,
the code for tokens (PKCE), and the console API behind the local JWT authorizer."""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from tests.e2e.conftest import WRITE_KEY, DevStack
from workbench.local.aws import client_for
from workbench.local.signin import AUTHORIZE_PATH, TOKEN_PATH

pytestmark = pytest.mark.e2e


def account(stack: DevStack, role: str) -> tuple[str, str]:
    """The e-mail address and password `cdp dev` printed for `role`."""
    found = re.search(rf"({role}@console\.local) / (\S+?)(?:,|\s)", stack.output())
    assert found, stack.output()
    return found.group(1), found.group(2)


def sign_in_page(page: Any, stack: DevStack, role: str, path: str) -> None:
    """Opens `path` of the console in a browser page, which sends it to the local sign-in form;
    signs in as `role` and waits to be back, signed in."""
    page.goto(f"{stack.url}{path}")
    page.wait_for_selector("text=Sign in to the console")
    email, password = account(stack, role)
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_selector(f"header >> text={email}")


def page_client(stack: DevStack) -> str:
    cognito = client_for(stack.aws_endpoint, "cognito-idp")
    [pool] = cognito.list_user_pools(MaxResults=10)["UserPools"]
    [client] = cognito.list_user_pool_clients(UserPoolId=pool["Id"])["UserPoolClients"]
    client_id: str = client["ClientId"]
    return client_id


def sign_in(stack: DevStack, role: str) -> str:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
    callback = f"{stack.url}/console/callback"
    asked = {
        "response_type": "code",
        "client_id": page_client(stack),
        "redirect_uri": callback,
        "state": secrets.token_urlsafe(8),
        "code_challenge": challenge.decode().rstrip("="),
        "code_challenge_method": "S256",
        "scope": "openid email",
    }
    form = requests.get(f"{stack.url}{AUTHORIZE_PATH}", params=asked, timeout=10)
    assert form.status_code == 200
    assert "Sign in to the console" in form.text
    email, password = account(stack, role)
    answer = requests.post(
        f"{stack.url}{AUTHORIZE_PATH}",
        data={**asked, "username": email, "password": password},
        allow_redirects=False,
        timeout=10,
    )
    assert answer.status_code == 302
    location = urlsplit(answer.headers["location"])
    returned = parse_qs(location.query)
    assert returned["state"] == [asked["state"]]
    tokens = requests.post(
        f"{stack.url}{TOKEN_PATH}",
        data={
            "grant_type": "authorization_code",
            "code": returned["code"][0],
            "client_id": asked["client_id"],
            "redirect_uri": callback,
            "code_verifier": verifier,
        },
        timeout=10,
    )
    assert tokens.status_code == 200
    token: str = tokens.json()["id_token"]
    return token


def test_the_console_api_answers_only_a_signed_in_person(dev_stack: DevStack) -> None:
    session = f"{dev_stack.url}/console/api/session"

    # without a token, the gateway answers as API Gateway's authorizer does
    refused = requests.get(session, timeout=10)
    assert (refused.status_code, refused.json()) == (401, {"message": "Unauthorized"})
    forged = requests.get(session, headers={"authorization": "Bearer x.y.z"}, timeout=10)
    assert forged.status_code == 401

    # signed in through the local Hosted UI, the function knows who it is
    token = sign_in(dev_stack, "editor")
    answer = requests.get(session, headers={"authorization": f"Bearer {token}"}, timeout=10)
    assert answer.status_code == 200
    assert answer.json()["name"] == "editor@console.local"
    assert answer.json()["role"] == "editor"


def test_the_overview_counts_what_arrived_from_the_functions_metrics(dev_stack: DevStack) -> None:
    # given events sent to `cdp dev` (its collector writes its metrics as in AWS)
    batch = [{"type": "track", "anonymousId": f"overview-{n}", "event": "Viewed"} for n in range(3)]
    batch.append({"type": "track", "event": "No one"})  # refused: no identifier
    sent = requests.post(
        f"{dev_stack.url}/v1/batch", json={"batch": batch}, auth=(WRITE_KEY, ""), timeout=10
    )
    assert sent.status_code == 200

    # when a viewer opens the overview
    token = sign_in(dev_stack, "viewer")
    answer = requests.get(
        f"{dev_stack.url}/console/api/overview",
        headers={"authorization": f"Bearer {token}"},
        timeout=10,
    )

    # then what the collector counted is there, from the local CloudWatch
    assert answer.status_code == 200
    last_hour = answer.json()["events"]["last_hour"]
    assert last_hour["stored"] >= 3
    assert last_hour["refused"] >= 1
    # and cdp dev's output is not full of metric lines
    assert '{"_aws"' not in dev_stack.output()
