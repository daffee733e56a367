"""How many profiles a segment definition would match, before it is stored: evaluated on a
sample of the profiles (every profile, when there are few), scaled to all of them."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from cdp.profiles.computed import ComputedTraitDefinition
from cdp.profiles.profile import Profile, facts_of
from cdp.segments.conditions import SegmentDefinition, compile_segments, evaluate

SAMPLE = 1000  # profiles evaluated for a preview: enough for an estimate within a few points


@dataclass(frozen=True)
class Preview:
    sampled: int  # profiles evaluated
    matched: int  # of those, how many the definition matches
    complete: bool  # every profile was evaluated: `estimate` is exact
    estimate: int  # how many profiles it would match in all
    total: int  # how many profiles there are (estimated unless complete)


def preview(
    definition: SegmentDefinition,
    stored: Iterable[SegmentDefinition],
    computed: tuple[ComputedTraitDefinition, ...],
    profiles: list[Profile],
    *,
    total: int,
    complete: bool,
    now: datetime,
) -> Preview:
    """Evaluate `definition` (with the stored segments it may refer to, as it would be stored)
    on each of `profiles`, a sample of `total` (`complete`: the sample is every profile), and
    scale. Consent counts as in membership: a segment with a purpose matches only those who
    granted it. A switched-off definition is previewed as if it were on."""
    trial = definition.model_copy(update={"enabled": True})
    segments = compile_segments([*(d for d in stored if d.id != definition.id), trial])
    matched = sum(
        evaluate(segments, facts_of(profile, computed, now)).get(trial.id, False)
        for profile in profiles
    )
    sampled = len(profiles)
    estimate = matched if complete or sampled == 0 else round(matched / sampled * total)
    return Preview(
        sampled=sampled,
        matched=matched,
        complete=complete,
        estimate=estimate,
        total=total,
    )
