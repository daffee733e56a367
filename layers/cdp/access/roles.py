"""Who is signed in to the console, and what their role lets them do.

API Gateway's JWT authorizer checks the token of every console API request (in `cdp dev`, the
local gateway does, the same way) and hands its claims to the function: the subject, the
e-mail address and the Cognito groups, which are the roles. Someone in several groups has the
strongest of them; someone in none may not use the console.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from cdp.runtime.errors import AuthenticationError, ForbiddenError

Role = Literal["viewer", "editor", "admin"]
ROLES: tuple[Role, ...] = ("viewer", "editor", "admin")  # weakest first

# What each role may do beyond the one below it.
ABILITIES: dict[Role, tuple[str, ...]] = {
    "viewer": ("search", "view_masked"),
    "editor": ("view_personal_data", "edit_segments", "edit_forms"),
    "admin": ("manage_keys", "export", "erase", "read_audit"),
}


@dataclass(frozen=True, slots=True)
class ConsoleUser:
    subject: str  # the token's `sub`: stays the same if the address changes
    name: str  # the e-mail address, else the user name
    role: Role

    def can(self, ability: str) -> bool:
        return ability in self.abilities

    @property
    def abilities(self) -> tuple[str, ...]:
        held = ROLES[: ROLES.index(self.role) + 1]
        return tuple(ability for role in held for ability in ABILITIES[role])

    def require(self, ability: str) -> None:
        if not self.can(ability):
            raise ForbiddenError(f"a {self.role} may not do this; ask an admin for the role")


def user_of(claims: Mapping[str, Any] | None) -> ConsoleUser:
    """The signed-in person of a request's token claims; `AuthenticationError` without a
    token, `ForbiddenError` for a token of no console role."""
    if not claims or not isinstance(claims.get("sub"), str):
        raise AuthenticationError("sign in to the console first")
    groups = _groups(claims.get("cognito:groups"))
    held = [role for role in ROLES if role in groups]
    if not held:
        raise ForbiddenError("this account has no console role (viewer, editor or admin)")
    name = claims.get("email") or claims.get("cognito:username") or claims.get("username")
    return ConsoleUser(subject=claims["sub"], name=str(name or claims["sub"]), role=held[-1])


def _groups(value: Any) -> set[str]:
    """Groups as a list (a decoded token) or as API Gateway passes an array claim on: one
    text, `[admin viewer]`."""
    if isinstance(value, list):
        return {str(group) for group in value}
    if isinstance(value, str):
        return set(re.split(r"[\s,]+", value.strip().strip("[]"))) - {""}
    return set()
