"""An in-memory implementation of the profile builder's store, with the same conditional
semantics as `cdp.storage.profiles.ProfileStore` (claims, versions, redirects).

It exists for property-based tests that run thousands of batches, where moto would take
minutes; every behaviour it models is also tested against moto in tests/integration.
"""

from __future__ import annotations

import copy
import json
import random
from typing import Any

from cdp.profiles.builder import WriteConflictError
from cdp.profiles.profile import Profile
from cdp.profiles.resolution import MAX_REDIRECT_HOPS, Known, Plan


class MemoryProfiles:
    def __init__(self, stale_reads: random.Random | None = None) -> None:
        """With `stale_reads`, an eventually consistent read may see the store as it was up
        to three writes ago (chosen by that generator), as DynamoDB's may."""
        self.identities: dict[str, str] = {}
        self.items: dict[str, dict[str, Any]] = {}  # profile id -> {version, state | merged_into}
        self.writes = 0
        self.stale_reads = stale_reads
        self.history: list[tuple[dict[str, str], dict[str, dict[str, Any]]]] = []

    def load(self, identities: set[str], *, consistent: bool = True) -> Known:
        if self.stale_reads is not None and not consistent and self.history:
            behind = self.stale_reads.randint(0, min(3, len(self.history)))
            if behind:
                past_identities, past_items = self.history[-behind]
                return self._load(identities, past_identities, past_items)
        return self._load(identities, self.identities, self.items)

    def _load(
        self,
        identities: set[str],
        owned: dict[str, str],
        items: dict[str, dict[str, Any]],
    ) -> Known:
        owners = {key: owned[key] for key in identities if key in owned}
        known = Known(owners=owners, profiles={})
        wanted = set(owners.values())
        for _ in range(MAX_REDIRECT_HOPS):
            next_wanted = set()
            for profile_id in wanted:
                item = items.get(profile_id)
                if item is None:
                    continue
                if "merged_into" in item:
                    known.redirects[profile_id] = item["merged_into"]
                    next_wanted.add(item["merged_into"])
                else:
                    state = json.loads(item["state"])
                    known.profiles[profile_id] = Profile.from_state(
                        profile_id, state, item["version"]
                    )
            wanted = next_wanted - set(known.profiles)
        return known

    def save(self, plan: Plan) -> None:
        if self.stale_reads is not None:
            self.history.append((copy.deepcopy(self.identities), copy.deepcopy(self.items)))
        survivor = plan.profile
        for key in plan.claims:
            if self.identities.get(key, survivor.profile_id) != survivor.profile_id:
                raise WriteConflictError("claimed")
            self.identities[key] = survivor.profile_id
        expected = [(survivor.profile_id, plan.expected_version)] + [
            (other.profile_id, other.version) for other in plan.absorbed
        ]
        for profile_id, version in expected:
            current = self.items.get(profile_id, {}).get("version", 0)
            if current != version:
                raise WriteConflictError("version")
        self.items[survivor.profile_id] = {
            "version": plan.expected_version + 1,
            "state": json.dumps(survivor.to_state()),
        }
        for other in plan.absorbed:
            self.items[other.profile_id] = {
                "version": other.version + 1,
                "merged_into": survivor.profile_id,
            }
        for key in plan.repoints:
            self.identities[key] = survivor.profile_id
        survivor.version = plan.expected_version + 1
        self.writes += 1

    def live_profiles(self) -> list[Profile]:
        return [
            Profile.from_state(profile_id, json.loads(item["state"]), item["version"])
            for profile_id, item in self.items.items()
            if "state" in item
        ]
