"""The one definition of every DynamoDB table: keys, indexes, TTL and stream.

The CDK stack (`infra/`), the local runtime (`cdp dev`) and the test fixtures all build their
tables from these specs, so a key or an index can never differ between them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

KeyType = Literal["S", "N", "B"]
StreamView = Literal["NEW_IMAGE", "OLD_IMAGE", "NEW_AND_OLD_IMAGES", "KEYS_ONLY"]


@dataclass(frozen=True)
class Key:
    name: str
    type: KeyType = "S"


@dataclass(frozen=True)
class Index:
    name: str
    partition_key: Key
    sort_key: Key | None = None
    projection: Literal["ALL", "KEYS_ONLY"] = "KEYS_ONLY"


@dataclass(frozen=True)
class TableSpec:
    """A table as the application sees it.

    `logical_name` names the construct in CDK and, prefixed, the table in `cdp dev`;
    `env_var` is the environment variable through which a function learns the real name.
    """

    logical_name: str
    env_var: str
    partition_key: Key
    sort_key: Key | None = None
    ttl_attribute: str | None = None
    stream: StreamView | None = None
    indexes: tuple[Index, ...] = field(default_factory=tuple)

    def create_table_args(self, table_name: str) -> dict[str, Any]:
        """Arguments for boto3's `create_table`, used by `cdp dev` and the tests."""
        keys = [self.partition_key, *([self.sort_key] if self.sort_key else [])]
        for index in self.indexes:
            keys += [index.partition_key, *([index.sort_key] if index.sort_key else [])]
        attributes = {key.name: key.type for key in keys}
        args: dict[str, Any] = {
            "TableName": table_name,
            "BillingMode": "PAY_PER_REQUEST",
            "KeySchema": _key_schema(self.partition_key, self.sort_key),
            "AttributeDefinitions": [
                {"AttributeName": name, "AttributeType": kind} for name, kind in attributes.items()
            ],
        }
        if self.indexes:
            args["GlobalSecondaryIndexes"] = [
                {
                    "IndexName": index.name,
                    "KeySchema": _key_schema(index.partition_key, index.sort_key),
                    "Projection": {"ProjectionType": index.projection},
                }
                for index in self.indexes
            ]
        if self.stream:
            args["StreamSpecification"] = {"StreamEnabled": True, "StreamViewType": self.stream}
        return args


def _key_schema(partition_key: Key, sort_key: Key | None) -> list[dict[str, str]]:
    schema = [{"AttributeName": partition_key.name, "KeyType": "HASH"}]
    if sort_key:
        schema.append({"AttributeName": sort_key.name, "KeyType": "RANGE"})
    return schema


# Every accepted message, one item per message. The partition is the strongest identity the
# message carries (`user_id:42`, else `anonymous_id:abc`), so a person's timeline and erasure
# are queries, never scans; the sort key is the client's own timestamp plus the messageId, both
# stable across client retries, so a retried message overwrites itself instead of doubling.
EVENTS = TableSpec(
    logical_name="Events",
    env_var="EVENTS_TABLE",
    partition_key=Key("pk"),
    sort_key=Key("sk"),
    ttl_attribute="expires_at",
    stream="NEW_IMAGE",
)

# Messages refused for a reason, with the reason and the original payload, so that nothing a
# client sent in good faith is silently lost. Partitioned by the day it arrived.
QUARANTINE = TableSpec(
    logical_name="Quarantine",
    env_var="QUARANTINE_TABLE",
    partition_key=Key("pk"),
    sort_key=Key("sk"),
    ttl_attribute="expires_at",
)

# API keys, stored only as SHA-256 hashes of the key.
KEYS = TableSpec(
    logical_name="Keys",
    env_var="KEYS_TABLE",
    partition_key=Key("key_hash"),
    ttl_attribute="expires_at",
)

# One item per person: the whole profile as compressed JSON (`state`) plus `version` for
# optimistic concurrency. A merged-away profile stays as a small redirect (`merged_into`).
# The stream carries old and new images for the publisher, which compares them.
# `due_shard` and `due_quarter` are set while time alone could change the profile's segments
# (see cdp.segments.due); the sparse `due` index lets the scheduler find exactly the profiles
# that are due, never scanning.
PROFILES = TableSpec(
    logical_name="Profiles",
    env_var="PROFILES_TABLE",
    partition_key=Key("profile_id"),
    ttl_attribute="expires_at",  # profiles with no activity for `profile_retention_days`
    stream="NEW_AND_OLD_IMAGES",
    indexes=(Index("due", partition_key=Key("due_shard"), sort_key=Key("due_quarter")),),
)

# Segment membership, written only when it changes (by the publisher, from the profiles
# stream): `segment_id` + `profile_id` per member, and under `#days` one item per day with
# each segment's entries and exits. Listing a segment's members is a query, and so is its count.
MEMBERS = TableSpec(
    logical_name="Members",
    env_var="MEMBERS_TABLE",
    partition_key=Key("segment_id"),
    sort_key=Key("profile_id"),
    ttl_attribute="expires_at",  # a segment's entries and exits per day; members never expire
)

# Identity -> profile: `user_id:42` -> the profile id. The source of truth for who is who;
# a lookup by any identifier is one read here and one in the profiles table.
IDENTITIES = TableSpec(
    logical_name="Identities",
    env_var="IDENTITIES_TABLE",
    partition_key=Key("identity"),
)

# Definitions kept as configuration: computed traits now, segments and forms later.
# `kind` is what (`computed_trait`), `id` which one; `definition` holds the JSON.
CONFIG = TableSpec(
    logical_name="Config",
    env_var="CONFIG_TABLE",
    partition_key=Key("kind"),
    sort_key=Key("id"),
)

# Erased people: keyed HMAC-SHA256 hashes of their identities (never the identities), so late
# events for them are dropped. A `#any` item says whether there is anything to check at all.
SUPPRESSIONS = TableSpec(
    logical_name="Suppressions",
    env_var="SUPPRESSIONS_TABLE",
    partition_key=Key("identity_hash"),
)

# What the console's people did with a person's data: each unmasked view of a profile, each
# export and erasure (cdp.console.audit). One partition (people read and act at human pace,
# far below a partition's limits), newest last by `at_id` (the time, then an id), so the log
# reads back newest first as one query. Kept `audit_retention_days` (TTL).
AUDIT = TableSpec(
    logical_name="Audit",
    env_var="AUDIT_TABLE",
    partition_key=Key("log"),
    sort_key=Key("at_id"),
    ttl_attribute="expires_at",
)

# What arrives from a source while someone watches it in the console (`cdp.intake.live`): one
# item per message with its outcome, masked; newest last by `at_id`; kept an hour (TTL).
LIVE = TableSpec(
    logical_name="Live",
    env_var="LIVE_TABLE",
    partition_key=Key("source"),
    sort_key=Key("at_id"),
    ttl_attribute="expires_at",
)

# What each destination was sent (cdp.storage.deliveries): per destination, one item per day with
# its delivered, retried, failed and skipped counts (`day#2026-11-28`), the last errors in the
# tool's words (`errors`), and each erasure sent (`erased#<at>#<profile id>`). Kept 400 days.
DELIVERIES = TableSpec(
    logical_name="Deliveries",
    env_var="DELIVERIES_TABLE",
    partition_key=Key("destination"),
    sort_key=Key("entry"),
    ttl_attribute="expires_at",
)

ALL_TABLES: tuple[TableSpec, ...] = (
    EVENTS,
    QUARANTINE,
    KEYS,
    PROFILES,
    IDENTITIES,
    CONFIG,
    MEMBERS,
    SUPPRESSIONS,
    AUDIT,
    LIVE,
    DELIVERIES,
)
