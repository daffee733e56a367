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
    "viewer": ("search", "view_masked", "read_config", "watch_live"),
    "editor": ("view_personal_data", "edit_segments", "edit_forms"),
    # Destinations send people's data to other tools: admins set them up.
    "admin": ("manage_keys", "manage_destinations", "export", "erase", "read_audit"),
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
            article = "an" if self.role[0] in "aeiou" else "a"
            raise ForbiddenError(
                f"{article} {self.role} may not do this; ask an admin for the role"
            )


# The console's own copy of the Admin API and of the Privacy API's export and erasure: the same
# routes under this prefix instead of /v1, opened by a console token instead of the secret key.
CONSOLE_API = "/console/api"

# What each change under CONSOLE_API asks of the signed-in person, by the route's first part;
# reading any of it asks `read_config` (segments, forms, sources' key states: no one's data).
_CHANGES = {
    "segments": "edit_segments",
    "computed-traits": "edit_segments",
    "forms": "edit_forms",
    "sources": "manage_keys",
    "webhooks": "manage_keys",
    "destinations": "manage_destinations",
}


def ability_for(method: str, path: str) -> str:
    """The ability a request to the console's copy of another API asks for, by its method and
    its path under CONSOLE_API; one nobody holds when the route is not one of those."""
    parts = path.removeprefix(CONSOLE_API).strip("/").split("/")
    if parts[0] == "profiles":
        if method == "GET" and parts[-1] == "export":
            return "export"
        return "erase" if method == "DELETE" and len(parts) == 2 else "none"
    if parts == ["segments", "preview"]:
        return "edit_segments"
    if parts[0] == "sources" and parts[-1] in ("watch", "live"):
        return "watch_live"  # what it shows is masked
    if method == "GET":
        return "read_config"
    return _CHANGES.get(parts[0], "none")


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
