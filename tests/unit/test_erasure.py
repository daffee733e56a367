"""Erasure in the domain: identifiers taken out of what another person's events left."""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from cdp.privacy.erasure import ERASED, forget_in_profile, scrub
from cdp.profiles.identity import comparable
from cdp.profiles.profile import Profile
from cdp.profiles.traits import TraitValue

ERASED_IDENTITIES = ["email:Carol@Example.com", "anonymous_id:laptop-1", "user_id:42"]


def _value(value: object, message_id: str = "m1") -> TraitValue:
    return TraitValue(value, "web", "2026-01-01T00:00:00.000Z", message_id)


def _carols_profile() -> Profile:
    return Profile(
        profile_id="p-carol",
        created_at="2026-01-01T00:00:00.000Z",
        identities={"user_id:carol": "2026-01-01T00:00:00.000Z"},
        traits={
            "email": {"observed": _value(" CAROL@example.com"), "imported": _value("c@x.org")},
            "partner": {"declared": _value({"phone": 42})},
            "plan": {"observed": _value("pro")},
        },
        watermarks={"user_id:carol": ["5", "t"], "anonymous_id:laptop-1": ["3", "t"]},
        conflicts=[{"identity": "user_id:carol", "refused": "email:carol@example.com"}],
        merges=[
            {
                "profile_id": "p-old",
                "identities": ["anonymous_id:laptop-1", "user_id:carol"],
                "filed_under": "anonymous_id:Laptop-1",
            }
        ],
    )


def test_traits_and_notes_that_hold_an_erased_identifier_go_and_the_rest_stays() -> None:
    profile = _carols_profile()

    assert forget_in_profile(profile, ERASED_IDENTITIES) is True

    assert profile.traits == {
        "email": {"imported": _value("c@x.org")},
        "plan": {"observed": _value("pro")},
    }
    assert profile.identities == {"user_id:carol": "2026-01-01T00:00:00.000Z"}
    assert profile.watermarks == {"user_id:carol": ["5", "t"]}
    assert profile.conflicts == []
    assert profile.merges == [
        {"profile_id": "p-old", "identities": ["user_id:carol"], "filed_under": ERASED}
    ]


def test_a_profile_that_names_nobody_erased_is_left_as_it_was() -> None:
    profile = _carols_profile()
    before = profile.to_state()

    assert forget_in_profile(profile, ["email:dan@example.com", "user_id:dan"]) is False
    assert profile.to_state() == before


_TEXT = st.text(alphabet="abcAB@.:-_ 0123456789", max_size=12)
_SCALARS = st.one_of(_TEXT, st.integers(-100, 100), st.booleans(), st.none())
_JSON = st.recursive(
    _SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_TEXT, inner, max_size=3),
    max_leaves=8,
)
_ERASED_FORMS = st.sampled_from(
    ["carol@example.com", "CAROL@EXAMPLE.COM", " carol@example.com ", "email:carol@example.com",
     "mail to carol@example.com", "laptop-1", "LAPTOP-1", 42, "42", "user_id:42"]
)  # fmt: skip


@given(
    traits=st.dictionaries(
        st.sampled_from(["email", "phone", "notes", "plan"]),
        st.dictionaries(st.sampled_from(["observed", "declared", "imported"]),
                        st.one_of(_JSON, _ERASED_FORMS), min_size=1, max_size=3),
        max_size=4,
    ),
    merge_identities=st.lists(st.one_of(_TEXT, _ERASED_FORMS.map(str)), max_size=4),
)  # fmt: skip
def test_no_erased_identifier_is_left_in_any_form(
    traits: dict[str, dict[str, object]], merge_identities: list[str]
) -> None:
    profile = Profile(
        profile_id="p",
        created_at="2026-01-01T00:00:00.000Z",
        traits={
            name: {kind: _value(value) for kind, value in by_kind.items()}
            for name, by_kind in traits.items()
        },
        merges=[{"profile_id": "q", "identities": merge_identities}],
    )
    kept = {
        (name, kind): value
        for name, by_kind in profile.traits.items()
        for kind, value in by_kind.items()
        if scrub(value.value, ERASED_IDENTITIES) == value.value
    }

    forget_in_profile(profile, ERASED_IDENTITIES)

    left = [
        *(value.value for by_kind in profile.traits.values() for value in by_kind.values()),
        *profile.merges[0]["identities"],
    ]
    assert scrub(left, ERASED_IDENTITIES) == left, "an erased identifier is still held"
    assert "carol@example.com" not in comparable(json.dumps(profile.to_state()))
    # whatever named nobody erased is kept as it was
    assert {
        (name, kind): value
        for name, by_kind in profile.traits.items()
        for kind, value in by_kind.items()
    } == kept


def test_a_merge_note_that_only_lists_an_erased_identity_is_rewritten() -> None:
    profile = Profile(
        profile_id="p",
        created_at="2026-01-01T00:00:00.000Z",
        merges=[{"profile_id": "q", "identities": ["user_id:42", "anonymous_id:kept"]}],
    )

    assert forget_in_profile(profile, ERASED_IDENTITIES) is True
    assert profile.merges == [{"profile_id": "q", "identities": ["anonymous_id:kept"]}]
