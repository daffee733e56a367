"""What the platform should know, kept by the test: who is who, which identifiers belong
together, which events are stored, what each person consented to.

Each identifier belongs to an owner: a person of the test (their user id, e-mail address and
devices), or, once an unmerge gave it back, a device of its own. Identifiers are linked as the
platform should link them: those one message carries, strongest first, except placeholders,
and never across an unmerge.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from cdp.profiles.identity import strength

PLACEHOLDERS = ("undefined", "null", "0", "Undefined", "[object Object]")


@dataclass
class Person:
    name: str
    user_id: str
    email: str
    devices: list[str]

    @classmethod
    def new(cls, name: str) -> Person:
        tag = uuid.uuid4().hex[:10]
        return cls(
            name=name,
            user_id=f"user-{tag}",
            email=f"mail-{tag}@example.com",
            devices=[f"device-{tag}-{n}" for n in range(3)],
        )

    @property
    def identities(self) -> list[str]:
        return [
            f"user_id:{self.user_id}",
            f"email:{self.email}",
            *(f"anonymous_id:{device}" for device in self.devices),
        ]


@dataclass
class Model:
    people: list[Person]
    owner: dict[str, str] = field(default_factory=dict)  # identity -> owner name
    cluster: dict[str, int] = field(default_factory=dict)  # identity -> cluster number
    apart: set[frozenset[int]] = field(default_factory=set)  # clusters never joined
    suppressed: set[str] = field(default_factory=set)  # identities of erased people
    erased: set[str] = field(default_factory=set)  # names of erased people
    # (partition, message id) -> revenue of every event the events table should hold
    expected: dict[tuple[str, str], float] = field(default_factory=dict)
    granted: dict[tuple[str, str], bool] = field(default_factory=dict)  # (user id, purpose)
    mistaken: set[str] = field(default_factory=set)  # devices signed into by a stranger
    _next: int = 0

    def __post_init__(self) -> None:
        for person in self.people:
            for identity in person.identities:
                self.owner[identity] = person.name

    def person(self, index: int) -> Person:
        return self.people[index % len(self.people)]

    def stored(self, identities: list[str]) -> bool:
        """Whether a message carrying these identities is stored (not an erased person's)."""
        return not set(identities) & self.suppressed

    def link(self, identities: list[str]) -> None:
        """Link what one stored message carries, as identity resolution should."""
        keys = sorted(dict.fromkeys(identities), key=strength)
        if not keys:
            return
        for key in keys:
            if key not in self.cluster:
                self.cluster[key] = self._new_cluster()
        anchor = keys[0]
        for key in keys[1:]:
            a, b = self.cluster[anchor], self.cluster[key]
            if a == b or frozenset((a, b)) in self.apart:
                continue
            if len({k for k in self.members(a) | self.members(b) if k.startswith("user_id:")}) > 1:
                continue  # two user ids: never one person
            for member in self.members(b):
                self.cluster[member] = a
            self.apart = {frozenset(a if c == b else c for c in pair) for pair in self.apart}

    def members(self, number: int) -> set[str]:
        return {identity for identity, cluster in self.cluster.items() if cluster == number}

    def of(self, identity: str) -> set[str]:
        """Every identity linked with `identity` (itself alone if never seen)."""
        number = self.cluster.get(identity)
        return {identity} if number is None else self.members(number)

    def split(self, identities: set[str]) -> None:
        """An unmerge: `identities` (what a mistaken merge brought in) leave their cluster
        together and are never joined with it again."""
        kept = self.cluster[next(iter(identities))]
        number = self._new_cluster()
        for identity in identities:
            self.cluster[identity] = number
        self.apart.add(frozenset((kept, number)))
        self.mistaken -= identities

    def _new_cluster(self) -> int:
        self._next += 1
        return self._next
