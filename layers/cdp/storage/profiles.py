"""The profiles and identities tables.

Profile item: `profile_id`, `version` (optimistic concurrency), `state` (the profile as
compressed JSON: `encode_state`, `decode_state`), `updated_at`, `expires_at` (DynamoDB TTL); a
merged-away profile keeps only `merged_into` (and the survivor's `expires_at`).
Identity item: `identity` (`user_id:42`), `profile_id`, `linked_at`.

`ProfileReader` reads; `ProfileStore` also writes, and is the one way a profile item is
written: every writer (the profile builder, the scheduler, the segment backfill, unmerges)
goes through `_profile_item`, which sets the retention (TTL), the version and the due index.
It cannot be built without a retention.

Reading a profile by an identifier costs one read in each table (two if the identity still
points at a profile that was merged away since; merges repoint identities right after).
"""

from __future__ import annotations

import random
import time
import zlib
from collections.abc import Callable, Iterable
from contextlib import suppress
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Protocol

from botocore.exceptions import ClientError

from cdp.profiles.builder import WriteConflictError
from cdp.profiles.identity import PROFILE_ID
from cdp.profiles.profile import Profile
from cdp.profiles.resolution import MAX_REDIRECT_HOPS, Known, Plan
from cdp.runtime.clock import iso, parse, utc_now
from cdp.runtime.codec import compress, decompress
from cdp.segments.due import due_index

BATCH_GET_LIMIT = 100
MAX_REMEMBERED_OWNERS = 100_000  # a few MB: forgotten all at once when full
MAX_STATE_BYTES = 350 * 1024  # DynamoDB's item limit is 400 KB; stay clear of it
_CONFLICT_CODES = {"ConditionalCheckFailed", "TransactionConflict"}


class ProfileTooLargeError(Exception):
    """A profile state over the documented bound: a bug in a bound, never expected."""


class ProfileWriterSettings(Protocol):
    """The settings of a function that writes profiles."""

    @property
    def profiles_table(self) -> str: ...
    @property
    def identities_table(self) -> str: ...
    @property
    def profile_retention_days(self) -> int: ...


@dataclass(frozen=True)
class Sample:
    profiles: list[Profile]
    total: int  # how many profiles there are: exact when `complete`, else estimated
    complete: bool  # the sample is every profile


class ProfileReader:
    def __init__(
        self,
        profiles_table: str,
        identities_table: str,
        *,
        client: Any,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.profiles_table = profiles_table
        self.identities_table = identities_table
        self.client = client
        self.sleep = sleep
        # identity -> profile id, as this warm function last read or wrote it in the
        # identities table (see `load`)
        self._owners: dict[str, str] = {}

    # -- reading -----------------------------------------------------------------------

    def load(self, identities: Iterable[str], *, consistent: bool = True) -> Known:
        """The owners of `identities` and their live profiles, redirects followed.

        An eventually consistent load takes owners this warm function already knows from
        memory instead of reading them again (half the builder's reads): an owner is only
        ever changed by a merge (which leaves a redirect to where the identity went), an
        unmerge (which takes the identity out of the profile) or an erasure (which deletes
        the profile), so a remembered owner holds exactly when the live profile it leads
        to still lists the identity; one that does not is read again."""
        wanted = sorted(set(identities))
        remembered = {} if consistent else {i: self._owners[i] for i in wanted if i in self._owners}
        known = Known(owners=dict(remembered), profiles={})
        self._read_owners(known, [i for i in wanted if i not in remembered], consistent)
        stale = [identity for identity in remembered if not _lists(known, identity)]
        if stale:
            for identity in stale:
                del known.owners[identity]
                self._owners.pop(identity, None)
            self._read_owners(known, stale, consistent)
        return known

    def remember(self, owners: dict[str, str]) -> None:
        """Owners this function read from the identities table or wrote to it."""
        if len(self._owners) + len(owners) > MAX_REMEMBERED_OWNERS:
            self._owners.clear()
        self._owners.update(owners)

    def _read_owners(self, known: Known, identities: list[str], consistent: bool) -> None:
        """Read these identities' owners into `known`, and the profiles they lead to."""
        items = self._batch_get(self.identities_table, "identity", identities, consistent)
        read = {item["identity"]["S"]: item["profile_id"]["S"] for item in items}
        known.owners.update(read)
        self.remember(read)
        wanted = {
            profile_id
            for profile_id in known.owners.values()
            if profile_id not in known.profiles and profile_id not in known.redirects
        }
        for _ in range(MAX_REDIRECT_HOPS):
            if not wanted:
                break
            found = self._batch_get(self.profiles_table, "profile_id", sorted(wanted), consistent)
            wanted = set()
            for item in found:
                profile_id = item["profile_id"]["S"]
                if "merged_into" in item:
                    target = item["merged_into"]["S"]
                    known.redirects[profile_id] = target
                    if target not in known.profiles and target not in known.redirects:
                        wanted.add(target)
                else:
                    known.profiles[profile_id] = _profile(item)

    def find(self, identity: str) -> Profile | None:
        """The profile an identity belongs to, or that `profile_id:<id>` names (a merged-away
        id leads to the profile it went into); eventually consistent: for the API."""
        kind, _, value = identity.partition(":")
        if kind == PROFILE_ID:
            profile_id = value
        else:
            answer = self.client.get_item(
                TableName=self.identities_table, Key={"identity": {"S": identity}}
            )
            if "Item" not in answer:
                return None
            profile_id = answer["Item"]["profile_id"]["S"]
        for _ in range(MAX_REDIRECT_HOPS):
            item = self.client.get_item(
                TableName=self.profiles_table, Key={"profile_id": {"S": profile_id}}
            ).get("Item")
            if item is None:
                return None
            if "merged_into" not in item:
                return _profile(item)
            profile_id = item["merged_into"]["S"]
        return None

    def named_in(self, identities: Iterable[str]) -> set[str]:
        """Other people's partitions whose events name these identities (a shared device;
        see `ProfileStore.record_mentions`)."""
        items = self._batch_get(self.identities_table, "identity", sorted(set(identities)), True)
        return {partition for item in items for partition in item.get("named_in", {}).get("SS", [])}

    def due(self, shard: str, until_quarter: str) -> list[str]:
        """Ids of a shard's profiles due by the end of `until_quarter` (the sparse index)."""
        ids: list[str] = []
        arguments: dict[str, Any] = {
            "TableName": self.profiles_table,
            "IndexName": "due",
            "KeyConditionExpression": "due_shard = :shard AND due_quarter <= :quarter",
            "ExpressionAttributeValues": {
                ":shard": {"S": shard},
                ":quarter": {"S": until_quarter},
            },
        }
        while True:
            answer = self.client.query(**arguments)
            ids += [item["profile_id"]["S"] for item in answer["Items"]]
            if "LastEvaluatedKey" not in answer:
                return ids
            arguments["ExclusiveStartKey"] = answer["LastEvaluatedKey"]

    def get(self, profile_id: str, *, consistent: bool = True) -> Profile | None:
        """A live profile by id (None for unknown ids and merged-away profiles)."""
        item = self.client.get_item(
            TableName=self.profiles_table,
            Key={"profile_id": {"S": profile_id}},
            ConsistentRead=consistent,
        ).get("Item")
        return _profile(item) if item is not None and "state" in item else None

    def scan_page(
        self, part: int, parts: int, start_key: dict[str, Any] | None, limit: int
    ) -> tuple[list[Profile], dict[str, Any] | None]:
        """One page of one parallel part of a scan (backfills only: never on a hot path)."""
        arguments: dict[str, Any] = {
            "TableName": self.profiles_table,
            "Segment": part,
            "TotalSegments": parts,
            "Limit": limit,
        }
        if start_key:
            arguments["ExclusiveStartKey"] = start_key
        answer = self.client.scan(**arguments)
        live = [_profile(item) for item in answer["Items"] if "state" in item]
        return live, answer.get("LastEvaluatedKey")

    def _batch_get(
        self, table: str, key: str, values: list[str], consistent: bool
    ) -> list[dict[str, Any]]:
        return _read_items(self.client, table, key, values, consistent=consistent, sleep=self.sleep)


def _read_items(
    client: Any,
    table: str,
    key: str,
    values: list[str],
    *,
    consistent: bool,
    sleep: Callable[[float], None],
    projection: tuple[str, dict[str, str]] | None = None,
) -> list[dict[str, Any]]:
    """The items of these keys, 100 a request, the keys DynamoDB left unread asked again."""
    items: list[dict[str, Any]] = []
    for start in range(0, len(values), BATCH_GET_LIMIT):
        wanted: dict[str, Any] = {
            "Keys": [{key: {"S": value}} for value in values[start : start + BATCH_GET_LIMIT]],
            "ConsistentRead": consistent,
        }
        if projection is not None:
            wanted["ProjectionExpression"], wanted["ExpressionAttributeNames"] = projection
        request: dict[str, Any] = {table: wanted}
        for attempt in range(8):
            answer = client.batch_get_item(RequestItems=request)
            items += answer.get("Responses", {}).get(table, [])
            request = answer.get("UnprocessedKeys") or {}
            if not request:
                break
            sleep(random.uniform(0, min(1.0, 0.05 * 2**attempt)))  # noqa: S311
        else:
            raise ClientError(
                {"Error": {"Code": "ThrottlingException", "Message": "keys left unread"}},
                "BatchGetItem",
            )
    return items


def live_profiles(
    table: str,
    profile_ids: Iterable[str],
    *,
    client: Any,
    sleep: Callable[[float], None] = time.sleep,
) -> dict[str, Profile]:
    """These profiles by id, as they are now: one BatchGetItem per 100 ids, eventually
    consistent, projected to what a profile is decoded from (less to send and decode; DynamoDB
    still charges the whole item, half a read unit per 4 KB, most profiles under 1 KB). A
    profile merged away or gone since is left out. For a page of ids, never a scan."""
    items = _read_items(
        client,
        table,
        "profile_id",
        sorted(set(profile_ids)),
        consistent=False,
        sleep=sleep,
        projection=("profile_id, version, #state", {"#state": "state"}),
    )
    return {item["profile_id"]["S"]: _profile(item) for item in items if "state" in item}


def sample_profiles(table: str, limit: int, *, client: Any) -> Sample:
    """Up to `limit` profiles from the start of a scan: profile ids are random, so they are
    a fair sample; with how many items the table holds (DynamoDB refreshes that count
    about every six hours) to scale from. For previews, never on a hot path."""
    arguments: dict[str, Any] = {"TableName": table, "Limit": limit}
    profiles: list[Profile] = []
    scanned = 0
    while True:
        answer = client.scan(**arguments)
        scanned += answer["ScannedCount"]
        profiles += [_profile(item) for item in answer["Items"] if "state" in item]
        last_key = answer.get("LastEvaluatedKey")
        if last_key is None or scanned >= limit:  # a page stops at 1 MB too
            break
        arguments.update(ExclusiveStartKey=last_key, Limit=limit - scanned)
    if last_key is None:
        return Sample(profiles, total=len(profiles), complete=True)
    description = client.describe_table(TableName=table)["Table"]
    # Tombstones of erased and merged profiles are items too: scale by the live share.
    live_share = len(profiles) / scanned if scanned else 0.0
    total = max(round(description.get("ItemCount", 0) * live_share), len(profiles))
    return Sample(profiles, total=total, complete=False)


class ProfileStore(ProfileReader):
    """Reads, and writes through the one path that keeps retention and versioning."""

    def __init__(
        self,
        profiles_table: str,
        identities_table: str,
        *,
        client: Any,
        retention: timedelta,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        super().__init__(profiles_table, identities_table, client=client, sleep=sleep)
        self.retention = retention  # a profile with no sign of life this long expires (TTL)

    @classmethod
    def from_settings(cls, settings: ProfileWriterSettings, *, client: Any) -> ProfileStore:
        return cls(
            settings.profiles_table,
            settings.identities_table,
            client=client,
            retention=timedelta(days=settings.profile_retention_days),
        )

    def put(self, profile: Profile) -> None:
        """Write a profile read with `get`, unless it changed since (`WriteConflictError`)."""
        put = {
            "TableName": self.profiles_table,
            "Item": self._profile_item(profile, iso(utc_now())),
            **_expect(profile.version),
        }
        self._conditional(lambda: self.client.put_item(**put))
        profile.version += 1

    def save(self, plan: Plan) -> None:
        """Write a plan: claim new identities, then the profile (with any merged-away ones
        as redirects, in one transaction), then repoint identities. Raises
        `WriteConflictError` when another writer got there first; the caller re-plans.

        The order makes a crash at any point safe to replay: a claimed identity of a profile
        not written yet resolves to that profile id, which the replay then creates.
        """
        survivor = plan.profile
        for identity in plan.claims:
            self._claim(identity, survivor.profile_id)
        self.record_mentions(plan.mentions)
        now = iso(utc_now())
        item = self._profile_item(survivor, now)
        put = {"TableName": self.profiles_table, "Item": item, **_expect(plan.expected_version)}
        if plan.absorbed:
            redirects = [
                {
                    "Put": {
                        "TableName": self.profiles_table,
                        "Item": {
                            "profile_id": {"S": other.profile_id},
                            "version": {"N": str(other.version + 1)},
                            "merged_into": {"S": survivor.profile_id},
                            "updated_at": {"S": now},
                            "expires_at": item["expires_at"],  # gone with the survivor
                        },
                        **_expect(other.version),
                    }
                }
                for other in plan.absorbed
            ]
            self._conditional(
                lambda: self.client.transact_write_items(TransactItems=[{"Put": put}, *redirects])
            )
        else:
            self._conditional(lambda: self.client.put_item(**put))
        survivor.version = plan.expected_version + 1
        for identity in plan.repoints:
            self.client.update_item(**self._pointing(identity, survivor.profile_id, now))
        self.remember(dict.fromkeys(plan.claims + plan.repoints, survivor.profile_id))

    def save_unmerge(self, kept: Profile, split: Profile, identities: list[str]) -> None:
        """Write both sides of an unmerge and move the split identities to the new profile,
        in one transaction: either it all happened, or nothing did (`WriteConflictError` when
        the profile changed since it was read; whatever moves an identity of it changes it)."""
        now = iso(utc_now())
        moves = [{"Update": self._pointing(i, split.profile_id, now)} for i in identities]
        profiles = [
            {
                "Put": {
                    "TableName": self.profiles_table,
                    "Item": self._profile_item(profile, now),
                    **_expect(profile.version),
                }
            }
            for profile in (kept, split)
        ]
        self._conditional(
            lambda: self.client.transact_write_items(TransactItems=[*profiles, *moves])
        )
        kept.version += 1
        split.version += 1

    def record_mentions(self, mentions: Iterable[tuple[str, str]]) -> None:
        """Note, where an event filed under one identity names another that is not linked
        with it (a shared device, an unmerge), both ways: on the named identity's item the
        partition (`named_in`), on the partition's item the identity (`names`). Erasing
        either person then finds the other's events to redact, and the notes to remove.
        Rare, idempotent (sets), and written before the profile that depends on them."""
        for identity, partition in sorted(set(mentions)):
            for key, attribute, value in ((identity, "named_in", partition),
                                          (partition, "names", identity)):  # fmt: skip
                with suppress(self.client.exceptions.ConditionalCheckFailedException):
                    self.client.update_item(
                        TableName=self.identities_table,
                        Key={"identity": {"S": key}},
                        UpdateExpression="ADD #note :value",  # `names` is a reserved word
                        ConditionExpression="attribute_exists(#identity)",
                        ExpressionAttributeNames={"#identity": "identity", "#note": attribute},
                        ExpressionAttributeValues={":value": {"SS": [value]}},
                    )

    def _pointing(self, identity: str, profile_id: str, now: str) -> dict[str, Any]:
        """An update that points an identity at a profile (an update, not a put: the item
        keeps what else it knows, such as where the identity is mentioned)."""
        return {
            "TableName": self.identities_table,
            "Key": {"identity": {"S": identity}},
            "UpdateExpression": "SET profile_id = :profile, linked_at = :now",
            "ExpressionAttributeValues": {":profile": {"S": profile_id}, ":now": {"S": now}},
        }

    def _claim(self, identity: str, profile_id: str) -> None:
        claim = self._pointing(identity, profile_id, iso(utc_now()))
        claim["ConditionExpression"] = "attribute_not_exists(#identity) OR profile_id = :profile"
        claim["ExpressionAttributeNames"] = {"#identity": "identity"}
        self._conditional(lambda: self.client.update_item(**claim))

    def _profile_item(self, profile: Profile, now: str) -> dict[str, Any]:
        """The item for a profile: every profile write comes through here."""
        state = encode_state(profile.to_state())
        if len(state) > MAX_STATE_BYTES:
            raise ProfileTooLargeError(f"profile state is {len(state)} bytes")
        expires = parse(profile.retained_from) + self.retention
        item = {
            "profile_id": {"S": profile.profile_id},
            "version": {"N": str(profile.version + 1)},
            "state": {"B": state},
            "updated_at": {"S": now},
            "expires_at": {"N": str(int(expires.timestamp()))},
        }
        if profile.due_at is not None:
            shard, quarter = due_index(profile.due_at, profile.profile_id)
            item["due_shard"] = {"S": shard}
            item["due_quarter"] = {"S": quarter}
        return item

    @staticmethod
    def _conditional(write: Callable[[], Any]) -> None:
        try:
            write()
        except ClientError as error:
            code = error.response.get("Error", {}).get("Code", "")
            reasons = {
                reason.get("Code", "") for reason in error.response.get("CancellationReasons", [])
            }
            if code == "ConditionalCheckFailedException" or (
                code == "TransactionCanceledException" and reasons & _CONFLICT_CODES
            ):
                raise WriteConflictError(code) from None
            raise


def _lists(known: Known, identity: str) -> bool:
    """Whether the live profile the identity's owner leads to lists it."""
    profile = known.profiles.get(known.owner(identity) or "")
    return profile is not None and identity in profile.identities


def _expect(version: int) -> dict[str, Any]:
    if version == 0:
        return {"ConditionExpression": "attribute_not_exists(profile_id)"}
    return {
        "ConditionExpression": "version = :version",
        "ExpressionAttributeValues": {":version": {"N": str(version)}},
    }


def _profile(item: dict[str, Any]) -> Profile:
    return Profile.from_state(
        item["profile_id"]["S"], decode_state(item["state"]["B"]), int(item["version"]["N"])
    )


# What a profile state repeats: its keys, consent decisions, the default computed traits and
# identity types, most common last (where deflate finds them cheapest). Small states compress
# about a third smaller with it, so most profile items stay under 1 KB: one write unit, not
# two. Never edit it: states written with it name it by its Adler-32; add another instead.
STATE_DICTIONARY_1 = (
    b'"anonymous_id:","user_id:","email:","observed","declared","imported","computed",'
    b'{"page_views":{"n":1,"d":{}},"orders":{"n":1},"revenue":{"s":0},"revenue_30d":{"d":{}},'
    b'"orders_30d":{"d":{}},"favorite_category":{"c":{}},"last_order":{},'
    b'"days_since_last_order":{}}'
    b'{"purpose":"analytics","state":"granted","at":"","source":"website","message_id":""}'
    b'{"purpose":"analytics","state":"denied","at":"","source":"website","message_id":""}'
    b'{"purpose":"marketing","state":"granted","at":"","source":"website","message_id":""}'
    b'{"purpose":"marketing","state":"denied","at":"","source":"website","message_id":""}'
    b'{"purpose":"personalization","state":"granted","at":"","source":"website","message_id":""}'
    b'{"purpose":"personalization","state":"denied","at":"","source":"website","message_id":""}'
    b'{"purpose":"sharing","state":"granted","at":"","source":"website","message_id":""}'
    b'{"purpose":"sharing","state":"denied","at":"","source":"website","message_id":""}'
    b'{"created_at":"2026-01-01T00:00:00.000Z","identities":{},"traits":{},"computed":{},'
    b'"groups":{},"first_seen":null,"last_seen":null,"last_received":null,"event_count":0,'
    b'"conflicts":[],"ignored":{},"watermarks":{},"consent":{},"consent_history":[],'
    b'"merged_from":[],"merges":[],"unmerges":[],"apart":[],"segments":{},"due_at":null}'
)
_STATE_DICTIONARIES = {zlib.adler32(STATE_DICTIONARY_1): STATE_DICTIONARY_1}


def encode_state(state: dict[str, Any]) -> bytes:
    return compress(state, STATE_DICTIONARY_1)


def decode_state(data: bytes) -> dict[str, Any]:
    """A stored state, whichever dictionary (or none, before there was one) it was written
    with."""
    state: dict[str, Any] = decompress(data, _STATE_DICTIONARIES)
    return state


class IdentityLinks:
    """Removing identity links of a profile that is gone (conditionally: only links that
    still lead to it)."""

    def __init__(self, table: str, *, client: Any) -> None:
        self.table = table
        self.client = client

    def forget(self, identities: Iterable[str], profile_id: str) -> int:
        removed = 0
        for identity in sorted(identities):
            try:
                self.client.delete_item(
                    TableName=self.table,
                    Key={"identity": {"S": identity}},
                    ConditionExpression="profile_id = :profile",
                    ExpressionAttributeValues={":profile": {"S": profile_id}},
                )
                removed += 1
            except ClientError as error:
                if error.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                    raise
        return removed
