"""The right to be forgotten: erase a person everywhere, keep them out, sweep once more.

An erasure suppresses the person's identities first (keyed hashes; late events for them are
then dropped at the collector and skipped by the profile builder), deletes their events,
refused messages, identity links, profile and merged-away profiles, and queues a sweep for a
few minutes later: collectors learn of a suppression within a minute, so the sweep deletes
whatever arrived in that minute, including a profile a late event may have started again.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass

from cdp.profile import Profile
from cdp.storage.erasure import Eraser, ErasureCounts

SWEEP_DELAY_SECONDS = 300


@dataclass(frozen=True)
class SweepTask:
    identities: list[str]
    profile_ids: list[str]
    erased_at: str

    def to_json(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> SweepTask:
        return cls(**json.loads(text))


def erase_person(
    profile: Profile,
    *,
    suppress: Callable[[list[str]], None],
    eraser: Eraser,
    queue_sweep: Callable[[SweepTask], None],
    now_iso: str,
) -> ErasureCounts:
    identities = sorted(profile.identities)
    profile_ids = [profile.profile_id, *profile.merged_from]
    suppress(identities)
    counts = eraser.erase_data(identities)
    counts.profiles = eraser.erase_profiles(profile_ids)
    queue_sweep(SweepTask(identities=identities, profile_ids=profile_ids, erased_at=now_iso))
    return counts


def sweep(task: SweepTask, eraser: Eraser) -> ErasureCounts:
    """Erase again what may have arrived since the erasure."""
    started_again = {owner for identity in task.identities if (owner := eraser.owner(identity))}
    counts = eraser.erase_data(task.identities)
    counts.profiles = eraser.erase_profiles({*task.profile_ids, *started_again})
    return counts
