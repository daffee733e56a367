"""A secret is read once, then again only when five minutes have passed (rotations)."""

from __future__ import annotations

from typing import Any

from cdp.storage.secrets import secret


class SecretsManager:
    def __init__(self, value: str) -> None:
        self.value = value
        self.reads: list[str] = []

    def get_secret_value(self, *, SecretId: str) -> dict[str, Any]:
        self.reads.append(SecretId)
        return {"Name": SecretId, "SecretString": self.value}


def test_a_secret_is_read_once_in_five_minutes() -> None:
    # given
    client = SecretsManager("pepper-1")
    now = [1000.0]
    pepper = secret("cdp-pepper", client=client, clock=lambda: now[0])

    # when read twice within five minutes, and once the secret rotated
    first = pepper()
    now[0] += 299
    second = pepper()
    client.value = "pepper-2"
    now[0] += 1
    rotated = pepper()

    # then
    assert (first, second, rotated) == ("pepper-1", "pepper-1", "pepper-2")
    assert client.reads == ["cdp-pepper", "cdp-pepper"]
