"""Console roles from token claims, as API Gateway's JWT authorizer passes them on."""

from __future__ import annotations

from itertools import pairwise
from typing import Any

import pytest

from cdp.access.roles import ABILITIES, ROLES, ability_for, user_of
from cdp.runtime.errors import AuthenticationError, ForbiddenError


@pytest.mark.parametrize(
    ("groups", "role"),
    [
        (["viewer"], "viewer"),
        ("[viewer]", "viewer"),  # API Gateway's text form of an array claim
        ("[admin viewer]", "admin"),
        (["editor", "viewer"], "editor"),
        (["marketing", "editor"], "editor"),
    ],
)
def test_the_strongest_console_group_is_the_role(groups: Any, role: str) -> None:
    claims = {"sub": "s-1", "email": "grace@shop.example", "cognito:groups": groups}

    user = user_of(claims)

    assert (user.role, user.name, user.subject) == (role, "grace@shop.example", "s-1")


def test_each_role_can_do_what_the_ones_below_it_can() -> None:
    for weaker, stronger in pairwise(ROLES):
        held = user_of({"sub": "s", "cognito:groups": [stronger]}).abilities
        assert set(user_of({"sub": "s", "cognito:groups": [weaker]}).abilities) < set(held)
    admin = user_of({"sub": "s", "cognito:groups": ["admin"]})
    assert set(admin.abilities) == {ability for role in ROLES for ability in ABILITIES[role]}


def test_a_viewer_may_not_see_personal_data() -> None:
    viewer = user_of({"sub": "s", "cognito:groups": "[viewer]"})

    with pytest.raises(ForbiddenError, match="viewer may not"):
        viewer.require("view_personal_data")


@pytest.mark.parametrize("claims", [None, {}, {"email": "x@y.z"}, {"sub": 3}])
def test_without_a_token_nobody_is_signed_in(claims: Any) -> None:
    with pytest.raises(AuthenticationError):
        user_of(claims)


@pytest.mark.parametrize("groups", [None, [], "[]", "[marketing]", ["Admin"]])
def test_a_token_without_a_console_group_is_refused(groups: Any) -> None:
    with pytest.raises(ForbiddenError, match="no console role"):
        user_of({"sub": "s-1", "cognito:groups": groups})


@pytest.mark.parametrize(
    ("method", "path", "ability"),
    [
        ("GET", "/console/api/segments", "read_config"),
        ("GET", "/console/api/sources/shop-web", "read_config"),
        ("PUT", "/console/api/segments/parents", "edit_segments"),
        ("POST", "/console/api/segments/preview", "edit_segments"),
        ("PUT", "/console/api/computed-traits/spend", "edit_segments"),
        ("DELETE", "/console/api/forms/household", "edit_forms"),
        ("POST", "/console/api/sources/shop-web/rotate", "manage_keys"),
        ("PUT", "/console/api/webhooks/mailer", "manage_keys"),
        ("PUT", "/console/api/destinations/crm", "manage_destinations"),
        ("POST", "/console/api/destinations/crm/resync", "manage_destinations"),
        ("GET", "/console/api/destinations/crm/deliveries", "read_config"),
        ("GET", "/console/api/profiles/user_id:42/export", "export"),
        ("DELETE", "/console/api/profiles/user_id:42", "erase"),
        # what the console has no copy of asks what no role holds
        ("POST", "/console/api/profiles/user_id:42/unmerge", "none"),
        ("GET", "/console/api/profiles/user_id:42", "none"),
        ("POST", "/console/api/somewhere-new", "none"),
    ],
)
def test_each_console_copy_asks_for_the_ability_its_change_needs(
    method: str, path: str, ability: str
) -> None:
    assert ability_for(method, path) == ability


def test_no_role_holds_the_ability_of_a_route_without_a_console_copy() -> None:
    held = {ability for abilities in ABILITIES.values() for ability in abilities}

    assert "none" not in held
    assert {"read_config", "edit_segments", "edit_forms", "manage_keys", "export", "erase"} <= held
