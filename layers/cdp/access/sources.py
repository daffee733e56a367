"""Sources: each website, app, server, CRM import or e-mail tool has a name and write keys of
its own, so every event says where it came from and a leaked key is replaced without touching
the others.

A source's record (config table, `kind` = `source`) lists its keys by id (the first 12
characters of the key's hash) and their state; the keys themselves exist only once, in the
answer that created them. Rotation issues a new key and lets the old one work for an overlap
period, so that sites can switch without losing events.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal, Protocol

from pydantic import ConfigDict, Field, model_validator

from cdp.access.keys import OBSERVED, ApiKey, KeyKind, generate_key, hash_key
from cdp.runtime.clock import iso
from cdp.runtime.errors import ConflictError, NotFoundError
from cdp.runtime.models import Model

SOURCE = "source"
SourceKind = Literal["website", "app", "server", "crm", "email", "other"]
# Keys of these sources sit in web pages and apps, where anyone can read them.
PUBLIC_KINDS = ("website", "app")
# Sources that feed systems of record may say their traits are `imported`.
IMPORTING_KINDS = ("server", "crm", "other")


class NewSource(Model):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(pattern=r"^[a-z][a-z0-9-]{0,63}$")
    kind: SourceKind = "other"
    description: str | None = Field(default=None, max_length=500)
    declares: bool = Field(
        default=False,
        description="its messages may mark traits as declared (what the person said "
        "themselves, e.g. your own back end's preference pages); never a website or app",
    )

    @model_validator(mode="after")
    def _declares(self) -> NewSource:
        if self.declares and self.kind in PUBLIC_KINDS:
            raise ValueError(
                f"declares: a {self.kind} key is public, so its messages cannot be trusted to "
                "say what a person declared (the forms API and preference center do that)"
            )
        return self


def claims_of(record: dict[str, Any]) -> frozenset[str]:
    """The provenance a source's messages may claim for their traits."""
    claims = {"observed"}
    if record.get("kind", "other") in IMPORTING_KINDS:
        claims.add("imported")
    if record.get("declares") and record.get("kind") not in PUBLIC_KINDS:
        claims.add("declared")
    return frozenset(claims)


class Definitions(Protocol):
    def get(self, kind: str, definition_id: str) -> dict[str, Any] | None: ...

    def put(
        self, kind: str, definition_id: str, definition: dict[str, Any], *, at: str
    ) -> None: ...

    def definitions(self, kind: str) -> list[dict[str, Any]]: ...


class KeyWriter(Protocol):
    def put(self, record: ApiKey, *, created_at: str) -> None: ...

    def watch(self, key_hash: str, until: int) -> None: ...


@dataclass
class Sources:
    config: Definitions
    keys: KeyWriter

    def create(self, new: NewSource, now: datetime) -> tuple[dict[str, Any], str]:
        """The new source's record, and its write key (shown this once)."""
        if self.config.get(SOURCE, new.name) is not None:
            raise ConflictError(f"a source called {new.name} exists; rotate its key instead")
        record = {**new.model_dump(exclude_none=True), "created_at": iso(now), "keys": []}
        key = self._issue(record, "write", now, expires_at=None, purpose="write key")
        return record, key

    def list(self) -> list[dict[str, Any]]:
        return sorted(self.config.definitions(SOURCE), key=lambda record: record["name"])

    def get(self, name: str) -> dict[str, Any]:
        record = self.config.get(SOURCE, name)
        if record is None:
            raise NotFoundError(f"no source is called {name}")
        return record

    def rotate(self, name: str, overlap: timedelta, now: datetime) -> tuple[dict[str, Any], str]:
        """A new write key; the current ones keep working for `overlap`, then stop."""
        record = self.get(name)
        if record.get("disabled"):
            raise ConflictError(f"source {name} is disabled; create a new source")
        until = int((now + overlap).timestamp())
        for entry in record["keys"]:
            if entry["enabled"] and (
                entry.get("expires_at") is None or entry["expires_at"] > until
            ):
                entry["expires_at"] = until
                self._save_key(record, entry)
        key = self._issue(record, "write", now, expires_at=None, purpose="write key")
        return record, key

    def temporary_key(
        self, name: str, lifetime: timedelta, now: datetime
    ) -> tuple[dict[str, Any], str]:
        """An extra write key that stops by itself (for an import from a laptop)."""
        record = self.get(name)
        if record.get("disabled"):
            raise ConflictError(f"source {name} is disabled")
        expires = int((now + lifetime).timestamp())
        key = self._issue(record, "write", now, expires_at=expires, purpose="temporary key")
        return record, key

    def disable(self, name: str, now: datetime) -> dict[str, Any]:
        record = self.get(name)
        record["disabled"] = iso(now)
        for entry in record["keys"]:
            entry["enabled"] = False
            self._save_key(record, entry)
        self.config.put(SOURCE, name, record, at=iso(now))
        return record

    def watch(self, name: str, lifetime: timedelta, now: datetime) -> dict[str, Any]:
        """Show the source's messages live (`cdp.intake.live`) for `lifetime`: a switch on
        each of its write keys, which the collector reads with the key anyway, so watching
        costs nothing when nobody watches. Watching again extends it."""
        record = self.get(name)
        until = int((now + lifetime).timestamp())
        epoch = now.timestamp()
        for entry in record["keys"]:
            usable = entry["enabled"] and entry.get("expires_at", epoch + 1) > epoch
            if entry["kind"] == "write" and usable:  # an expired key sends nothing to watch
                self.keys.watch(entry["key_hash"], until)
        record["watched_until"] = until
        self.config.put(SOURCE, name, record, at=iso(now))
        return record

    def _issue(
        self,
        record: dict[str, Any],
        kind: KeyKind,
        now: datetime,
        *,
        expires_at: int | None,
        purpose: str,
    ) -> str:
        key = generate_key(kind)
        entry = {
            "key_id": hash_key(key)[:12],
            "key_hash": hash_key(key),
            "kind": kind,
            "purpose": purpose,
            "created_at": iso(now),
            "enabled": True,
            **({"expires_at": expires_at} if expires_at is not None else {}),
        }
        record["keys"].append(entry)
        self._save_key(record, entry)
        self.config.put(SOURCE, record["name"], record, at=iso(now))
        return key

    def _save_key(self, record: dict[str, Any], entry: dict[str, Any]) -> None:
        self.keys.put(
            ApiKey(
                key_hash=entry["key_hash"],
                kind=entry["kind"],
                source=record["name"],
                enabled=entry["enabled"],
                expires_at=entry.get("expires_at"),
                claims=claims_of(record) if entry["kind"] == "write" else OBSERVED,
            ),
            created_at=entry["created_at"],
        )


def public(record: dict[str, Any], now: datetime) -> dict[str, Any]:
    """A source as the API shows it: key ids and states, never a hash or a key."""
    epoch = now.timestamp()

    def state(entry: dict[str, Any]) -> str:
        if not entry["enabled"]:
            return "disabled"
        expires = entry.get("expires_at")
        if expires is None:
            return "active"
        return "expiring" if expires > epoch else "expired"

    return {
        "name": record["name"],
        "kind": record.get("kind", "other"),
        "description": record.get("description"),
        "claims": sorted(claims_of(record)),
        "created_at": record["created_at"],
        "disabled": record.get("disabled"),
        "watched_until": (
            iso(datetime.fromtimestamp(record["watched_until"], tz=now.tzinfo))
            if record.get("watched_until", 0) > epoch
            else None
        ),
        "keys": [
            {
                "key_id": entry["key_id"],
                "purpose": entry.get("purpose", "write key"),
                "created_at": entry["created_at"],
                "state": state(entry),
                "expires_at": (
                    iso(datetime.fromtimestamp(entry["expires_at"], tz=now.tzinfo))
                    if entry.get("expires_at") is not None
                    else None
                ),
            }
            for entry in record["keys"]
        ],
    }
