"""Wire models of the Profile API (what other systems receive), documented in OpenAPI."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from cdp.runtime.models import Model


class Identity(Model):
    type: str = Field(description="user_id, anonymous_id, email, or an external id type")
    value: str


class TraitSource(Model):
    kind: Literal["declared", "imported", "observed", "computed"] = Field(
        description="declared: the person said it; imported: another system of record; "
        "observed: seen in behaviour; computed: derived by the platform"
    )
    source: str = Field(description="the source (write key) it came from")
    set_at: str = Field(description="event time of the value, ISO 8601 UTC")
    expires_at: str | None = Field(default=None, description="when the value stops counting")


class Conflict(Model):
    at: str = Field(description="when it was first refused")
    identity: str = Field(description="the person's own identity the event came with")
    refused: str = Field(description="the type of the identity that was not linked")
    reason: str
    message_id: str = Field(description="the event that carried it (first time)")
    last_at: str | None = None
    count: int = 1


class IgnoredIdentity(Model):
    type: str
    value: str
    reason: str
    first_seen: str


class ProfileOut(Model):
    profile_id: str
    identities: list[Identity]
    traits: dict[str, Any] = Field(description="trait name to the value that counts")
    trait_sources: dict[str, TraitSource] = Field(description="trait name to its provenance")
    computed: dict[str, Any] = Field(description="computed trait name to its value now")
    groups: list[str]
    segments: list[str] = Field(description="ids of the segments the person is in")
    segment_memberships: dict[str, str] = Field(description="segment id to when they entered")
    consent: dict[str, Any]
    first_seen: str | None
    last_seen: str | None
    event_count: int
    conflicts: list[Conflict] = Field(description="links that were refused (merge protection)")
    merges: list[dict[str, Any]] = Field(
        description="each profile merged into this one: when, its identities, and the event "
        "that linked them (message_id, filed_under)"
    )
    unmerges: list[dict[str, Any]] = Field(
        description="each unmerge: the identities split out and the profile they went to"
    )
    ignored_identities: list[IgnoredIdentity] = Field(
        description="placeholder identifiers its events carried, never linked"
    )
    created_at: str


class OlderEvents(Model):
    before: str = Field(
        description="the start of the hot window (UTC, ISO 8601): events that arrived before "
        "it have left the events table, and so this timeline"
    )
    table: Literal["events"] = Field(
        description="the data lake's table that keeps them for the whole retention"
    )
    sql: str = Field(
        description='a query for them, as `cdp sql "<sql>"` runs it (DuckDB in cdp dev, '
        "Athena with --stack NAME)"
    )


class EventsPage(Model):
    events: list[dict[str, Any]] = Field(description="the stored messages, newest first")
    cursor: str | None = Field(description="pass as ?cursor= for the next page; null at the end")
    older_events: OlderEvents | None = Field(
        default=None,
        description="where this person's events older than the hot window are "
        "(`event_hot_days`, shorter than `event_retention_days`); null when the events "
        "table keeps every event for the whole retention",
    )
