"""Console sign-in in `cdp dev`: the Cognito user pool in moto, with one user per role, and the
two parts of AWS that moto does not play: the Hosted UI's sign-in (its `authorize` and `token`
endpoints, authorization code flow with PKCE) and API Gateway's JWT authorizer (the token's
signature, issuer, audience and expiry; its claims handed to the function as API Gateway hands
them). The page and the console function run the same code as in AWS."""

from __future__ import annotations

import base64
import hashlib
import html
import json
import secrets
import threading
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlencode

from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from moto.utilities.utils import load_resource

from cdp.access.roles import ROLES, Role
from workbench.local.aws import REGION

# The Hosted UI's paths under `cdp dev`'s address + /_dev (the console's SIGN_IN_URL).
SIGN_IN_PATH = "/_dev"
AUTHORIZE_PATH = f"{SIGN_IN_PATH}/oauth2/authorize"
TOKEN_PATH = f"{SIGN_IN_PATH}/oauth2/token"
LOGOUT_PATH = f"{SIGN_IN_PATH}/logout"
CODE_SECONDS = 120  # an authorization code is used at once, or not at all
Answer = tuple[int, dict[str, str], bytes]


@dataclass(frozen=True)
class ConsoleAccount:
    role: Role
    email: str
    password: str


class LocalSignIn:
    def __init__(self, cognito: Any, *, domain: str = "console.local") -> None:
        self.cognito = cognito
        pool = cognito.create_user_pool(
            PoolName="cdp-dev-console",
            UsernameAttributes=["email"],
            AutoVerifiedAttributes=["email"],
        )["UserPool"]
        self.pool_id: str = pool["Id"]
        self.client_id: str = cognito.create_user_pool_client(
            UserPoolId=self.pool_id,
            ClientName="page",
            GenerateSecret=False,
            ExplicitAuthFlows=["ALLOW_ADMIN_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
            AllowedOAuthFlows=["code"],
            AllowedOAuthScopes=["openid", "email"],
        )["UserPoolClient"]["ClientId"]
        self.issuer = f"https://cognito-idp.{REGION}.amazonaws.com/{self.pool_id}"
        self.keys = KeySet.import_key_set(load_resource("cognitoidp/resources/jwks-public.json"))
        self.accounts = [self._account(role, domain) for role in ROLES]
        self._codes: dict[str, tuple[float, dict[str, str], dict[str, Any]]] = {}
        self._lock = threading.Lock()

    def _account(self, role: Role, domain: str) -> ConsoleAccount:
        email = f"{role}@{domain}"
        # Cognito's default policy: upper and lower case, a digit and a symbol.
        password = f"Dev-{secrets.token_urlsafe(9)}-1a"
        self.cognito.create_group(GroupName=role, UserPoolId=self.pool_id)
        self.cognito.admin_create_user(
            UserPoolId=self.pool_id,
            Username=email,
            UserAttributes=[{"Name": "email", "Value": email}],
            MessageAction="SUPPRESS",
        )
        self.cognito.admin_set_user_password(
            UserPoolId=self.pool_id, Username=email, Password=password, Permanent=True
        )
        self.cognito.admin_add_user_to_group(
            UserPoolId=self.pool_id, Username=email, GroupName=role
        )
        return ConsoleAccount(role, email, password)

    # -- API Gateway's JWT authorizer ----------------------------------------------------

    def claims(self, authorization: str | None) -> dict[str, str] | None:
        """The claims of a valid token of this pool's page client, as API Gateway passes
        them on (every value text; a list as `[a b]`), or None: API Gateway answers 401."""
        scheme, _, token = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return None
        try:
            decoded = jwt.decode(token.strip(), self.keys, algorithms=["RS256"])
        except (JoseError, ValueError):
            return None
        claims = decoded.claims
        audience = claims.get("aud") if claims.get("token_use") == "id" else claims.get("client_id")
        if (
            claims.get("iss") != self.issuer
            or audience != self.client_id
            or not isinstance(claims.get("exp"), int)
            or claims["exp"] <= time.time()
        ):
            return None
        return {
            name: f"[{' '.join(map(str, value))}]" if isinstance(value, list) else str(value)
            for name, value in claims.items()
        }

    # -- the Hosted UI's endpoints -------------------------------------------------------

    def authorize(self, body: bytes, query: str) -> Answer:
        """GET: the sign-in form for an authorization request; POST: its answer, which
        redirects to the page with a one-time code (or shows the form again)."""
        request = dict(parse_qsl(body.decode(errors="replace") if body else query))
        problem = self._request_problem(request)
        if problem:
            return _page(400, f"<p>{html.escape(problem)}</p>")
        if not body:
            return _page(200, self._form(request, error=None))
        try:
            tokens = self.cognito.admin_initiate_auth(
                UserPoolId=self.pool_id,
                ClientId=self.client_id,
                AuthFlow="ADMIN_USER_PASSWORD_AUTH",
                AuthParameters={
                    "USERNAME": request.get("username", ""),
                    "PASSWORD": request.get("password", ""),
                },
            )["AuthenticationResult"]
        except self.cognito.exceptions.ClientError:
            return _page(401, self._form(request, error="Incorrect user name or password."))
        code = secrets.token_urlsafe(24)
        with self._lock:
            self._codes[code] = (time.monotonic() + CODE_SECONDS, request, tokens)
        location = (
            request["redirect_uri"]
            + "?"
            + urlencode(
                {"code": code, **({"state": request["state"]} if request.get("state") else {})}
            )
        )
        return 302, {"location": location, "cache-control": "no-store"}, b""

    def token(self, body: bytes, _query: str) -> Answer:
        """The code for tokens, once, with the PKCE verifier of the authorization request."""
        form = dict(parse_qsl(body.decode(errors="replace")))
        with self._lock:
            expires, request, tokens = self._codes.pop(form.get("code", ""), (0.0, {}, {}))
        verifier = form.get("code_verifier", "")
        challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
        if (
            form.get("grant_type") != "authorization_code"
            or expires < time.monotonic()
            or form.get("client_id") != self.client_id
            or form.get("redirect_uri") != request.get("redirect_uri")
            or challenge.decode().rstrip("=") != request.get("code_challenge")
        ):
            return _json(400, {"error": "invalid_grant"})
        return _json(
            200,
            {
                "id_token": tokens["IdToken"],
                "access_token": tokens["AccessToken"],
                "expires_in": tokens["ExpiresIn"],
                "token_type": "Bearer",
            },
        )

    def logout(self, _body: bytes, query: str) -> Answer:
        """Back to the page (tokens live in the page; there is no session here to end)."""
        target = dict(parse_qsl(query)).get("logout_uri", "")
        if not target.startswith(("http://", "https://")):
            return _page(400, "<p>logout_uri: the page's address is needed</p>")
        return 302, {"location": target, "cache-control": "no-store"}, b""

    def _request_problem(self, request: dict[str, str]) -> str | None:
        if request.get("response_type") != "code" or request.get("client_id") != self.client_id:
            return "unknown client, or not the authorization code flow"
        if not request.get("redirect_uri", "").startswith(("http://", "https://")):
            return "redirect_uri: the page's callback address is needed"
        if request.get("code_challenge_method") != "S256" or not request.get("code_challenge"):
            return "PKCE is required: code_challenge with code_challenge_method S256"
        return None

    def _form(self, request: dict[str, str], *, error: str | None) -> str:
        hidden = "".join(
            f'<input type="hidden" name="{name}" value="{html.escape(request.get(name, ""))}">'
            for name in _AUTHORIZATION_REQUEST
        )
        accounts = "".join(
            f"<li><code>{html.escape(a.email)}</code> ({a.role})</li>" for a in self.accounts
        )
        alert = f'<p role="alert">{html.escape(error)}</p>' if error else ""
        return (
            "<h1>Sign in to the console</h1>"
            f"{alert}<form method=post action={AUTHORIZE_PATH}>{hidden}"
            "<p><label for=username>E-mail</label> <input id=username name=username type=email "
            "autocomplete=username required></p>"
            "<p><label for=password>Password</label> <input id=password name=password "
            "type=password autocomplete=current-password required></p>"
            "<p><button type=submit>Sign in</button></p></form>"
            f"<p>cdp dev's accounts (passwords printed at start):</p><ul>{accounts}</ul>"
        )


# What the form carries back to `authorize` of the page's request.
_AUTHORIZATION_REQUEST = (
    "response_type",
    "client_id",
    "redirect_uri",
    "state",
    "scope",
    "code_challenge",
    "code_challenge_method",
)


def _page(status: int, content: str) -> Answer:
    page = (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        "<title>Sign in: cdp dev</title></head><body><main>"
        f"{content}</main></body></html>"
    )
    headers = {
        "content-type": "text/html; charset=utf-8",
        "cache-control": "no-store",
        "content-security-policy": "default-src 'none'; form-action 'self'; frame-ancestors 'none'",
    }
    return status, headers, page.encode()


def _json(status: int, body: dict[str, Any]) -> Answer:
    headers = {"content-type": "application/json", "cache-control": "no-store"}
    return status, headers, json.dumps(body).encode()
