from __future__ import annotations

import pytest

from cdp.access.keys import ApiKey, authenticate, generate_key, hash_key
from cdp.runtime.errors import AuthenticationError


def test_generated_keys_are_random_and_typed() -> None:
    first, second = generate_key("write"), generate_key("write")
    assert first != second
    assert first.startswith("wk_")
    assert generate_key("secret").startswith("sk_")
    assert len(first) > 40


def test_only_the_hash_identifies_a_key() -> None:
    assert hash_key("wk_a") == hash_key("wk_a")
    assert hash_key("wk_a") != hash_key("wk_b")
    assert "wk_a" not in hash_key("wk_a")


def test_disabled_and_expired_keys_do_not_authenticate() -> None:
    key = "wk_x"
    disabled = ApiKey(hash_key(key), "write", "web", enabled=False)
    expired = ApiKey(hash_key(key), "write", "web", expires_at=1000)
    for record in (disabled, expired):
        with pytest.raises(AuthenticationError, match="not valid"):
            authenticate(key, "write", {record.key_hash: record}.get, now_epoch=2000)


def test_a_rotated_key_works_until_its_expiry() -> None:
    record = ApiKey(hash_key("wk_x"), "write", "web", expires_at=3000)
    assert authenticate("wk_x", "write", {record.key_hash: record}.get, now_epoch=2999) == record


def test_long_keys_are_refused_without_a_lookup() -> None:
    looked_up: list[str] = []

    def find(key_hash: str) -> None:
        looked_up.append(key_hash)

    with pytest.raises(AuthenticationError):
        authenticate("wk_" + "x" * 300, "write", find, now_epoch=0)
    assert looked_up == []
