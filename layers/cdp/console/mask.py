"""What a viewer sees of a person: the shape of a profile or an event, never the person.

What is masked, by a fixed rule:

- **Identifiers**, wherever they appear: identity values (the sheet's identities and ignored
  placeholders, the identities named in merges, unmerges and conflicts), and in events
  `userId`, `anonymousId`, `previousId`, `context.ip`, `context.externalIds[].id`,
  `context.device.id` / `advertisingId` / `token` and `context.cdp.ignored_identities`.
- **Traits that identify or describe a person**: every value of a trait that any source
  *declared* (the person said it: whatever it is, it is theirs), and every value of a trait
  whose name is personal (`personal_name`: e-mail, phone, names, address and its parts, birth
  date, age, gender, location, IP, national and bank numbers...). In events, every value of
  `traits` and `context.traits` (they are traits), of `context.location`, and of the
  properties whose name is personal, at any depth.
- **Whatever gives one of those away**: any other free value (a trait or property value, a
  computed trait's text, the actual value a segment condition read, any other text of an
  event) that holds an e-mail address, a phone number written `+...`, or any value masked
  above (3 characters or more, whatever the case, URL-encoded or not). Such a value is
  masked whole.

A masked value keeps its kind: an e-mail address becomes `a•••@e•••.com` (the first character
of the local part and of the domain when they are 3 characters or more, and the top-level
domain when it is 2 to 6 letters), any other text `•••7` (the last character when there are 4
or more), any other value (a number, true/false, a list, an object) `•••`; `null` stays
`null` (a removal). So a masked value never shows more than two characters of what it hides,
besides a top-level domain.

What stays readable: the structure and everything the platform itself writes or is configured
with: counts, times, identity types, trait and property names, event types and names, message
ids, profile ids, segment ids and names, consent purposes, states and versions, sources, and
the reasons of ignored identities and conflicts. Computed traits that are numbers (counts,
sums) stay readable whatever their name.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any
from urllib.parse import unquote_plus

from cdp.profiles.identity import split_identity
from cdp.segments.conditions import OPERATORS

MASK = "•••"
MIN_NEEDLE = 3  # shorter values are looked for nowhere: they would be found everywhere

# Whole words of a trait or property name (split at `_`, `-`, `.`, spaces and camelCase)...
_PERSONAL_WORDS = frozenset(
    {
        "email", "mail", "phone", "mobile", "tel", "telephone", "fax", "name", "firstname",
        "lastname", "surname", "fullname", "username", "nickname", "initials", "address",
        "street", "house", "city", "town", "zip", "zipcode", "postal", "postcode", "state",
        "province", "region", "country", "birthday", "birthdate", "birth", "dob", "age",
        "gender", "sex", "ip", "ssn", "passport", "nin", "bsn", "iban", "bic", "card", "tax",
        "location", "latitude", "longitude", "lat", "lng", "lon", "geo", "avatar", "photo",
        "contact", "password", "salutation",
    }
)  # fmt: skip
# ...and parts that mark a personal name even run together with others (`homephone`)
_PERSONAL_PARTS = ("email", "phone", "name", "address", "birth", "street", "postal", "passport",
                   "gender", "mobile")  # fmt: skip
_WORDS = re.compile(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])|\d+")
_EMAIL = re.compile(r"^([^@\s]+)@([^@\s]+)\.([^@\s.]+)$")
_CONTAINS_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
_CONTAINS_PHONE = re.compile(r"\+\d[\d\s().-]{6,}\d")
_TOP_LEVEL_DOMAIN = re.compile(r"^[A-Za-z]{2,6}$")

# Event fields that stay as they are: what happened and when, never who
_EVENT_READABLE = frozenset(
    {"type", "event", "messageId", "timestamp", "originalTimestamp", "sentAt", "receivedAt",
     "channel", "version"}
)  # fmt: skip
_NOT_VALUES = ("exists", "within", "older_than")
_EVENT_IDENTIFIERS = ("userId", "anonymousId", "previousId")
_DEVICE_IDENTIFIERS = ("id", "advertisingId", "token")


def personal_name(name: str) -> bool:
    """Whether a trait or property of this name identifies or describes a person."""
    words = [word.lower() for word in _WORDS.findall(name)]
    if any(word in _PERSONAL_WORDS for word in words):
        return True
    folded = name.casefold()
    return any(part in folded for part in _PERSONAL_PARTS)


def mask_identifier(value: str) -> str:
    """`a•••@e•••.com` for an e-mail address, `•••7` for anything else."""
    email = _EMAIL.match(value)
    if email is not None:
        local, domain, top = email.groups()
        top = top if _TOP_LEVEL_DOMAIN.match(top) else MASK
        return f"{_head(local)}{MASK}@{_head(domain)}{MASK}.{top}"
    return f"{MASK}{value[-1]}" if len(value) >= 4 else MASK


def mask_value(value: Any) -> Any:
    """A trait's or property's value, masked keeping its kind (see the module's docstring)."""
    if value is None:
        return None
    if isinstance(value, str):
        return mask_identifier(value)
    return MASK


def mask_key(key: str) -> str:
    """An identity in its text form: the type stays, the value is masked."""
    kind, value = split_identity(key)
    return f"{kind}:{mask_identifier(value)}"


def _head(text: str) -> str:
    return text[0] if len(text) >= 3 else ""


class _Needles:
    """The values masked so far: any other text that holds one of them gives it away."""

    def __init__(self, values: Iterable[Any] = ()) -> None:
        self.found: set[str] = set()
        self.add(values)

    def add(self, values: Iterable[Any]) -> None:
        for value in values:
            self.found.update(
                text.casefold() for text in _texts(value) if len(text.strip()) >= MIN_NEEDLE
            )

    def reveal(self, value: Any) -> bool:
        """Whether a value (any of its texts, keys included) gives a masked value away, or is
        or holds an e-mail address or a phone number."""
        for text in _texts(value, keys=True, numbers=True):
            for form in {text, unquote_plus(text)}:
                if _CONTAINS_EMAIL.search(form) or _CONTAINS_PHONE.search(form):
                    return True
                folded = form.casefold()
                if any(needle in folded for needle in self.found):
                    return True
        return False

    def free(self, value: Any) -> Any:
        """A value nothing says is personal: masked whole if it gives anything away."""
        return mask_value(value) if self.reveal(value) else value


def _texts(value: Any, *, keys: bool = False, numbers: bool = False) -> Iterable[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, Mapping):
        for key, item in value.items():
            if keys:
                yield str(key)
            yield from _texts(item, keys=keys, numbers=numbers)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _texts(item, keys=keys, numbers=numbers)
    elif numbers and isinstance(value, int | float) and not isinstance(value, bool):
        yield str(value)


# --- the 360° profile -------------------------------------------------------------------------


def masked_sheet(sheet: Mapping[str, Any]) -> dict[str, Any]:
    """The 360° profile (`cdp.console.sheet.profile_sheet`) as a viewer sees it; the sheet
    given is left as it is."""
    traits: Mapping[str, Mapping[str, Mapping[str, Any]]] = sheet.get("traits", {})
    personal = {name for group in traits.values() for name in group if personal_name(name)} | set(
        traits.get("declared", {})
    )
    needles = _Needles(_identifiers_of(sheet))
    needles.add(
        entry.get("value")
        for group in traits.values()
        for name, entry in group.items()
        if name in personal
    )
    needles.add(
        value
        for name, value in sheet.get("computed", {}).items()
        if isinstance(value, str) and personal_name(name)
    )

    def trait(name: str, entry: Mapping[str, Any]) -> dict[str, Any]:
        value = entry.get("value")
        shown = mask_value(value) if name in personal else needles.free(value)
        return {**entry, "value": shown}

    def computed(name: str, value: Any) -> Any:
        if isinstance(value, str) and personal_name(name):
            return mask_value(value)
        return needles.free(value)

    def shown(name: str) -> str:
        """A trait's name (the sender's choice) unless it gives something away."""
        return mask_identifier(name) if needles.reveal(name) else name

    masked = dict(sheet)
    masked["masked"] = True
    masked["identities"] = [
        {**entry, "value": mask_identifier(str(entry.get("value", "")))}
        for entry in sheet.get("identities", [])
    ]
    masked["ignored_identities"] = [
        {**entry, "value": mask_identifier(str(entry.get("value", "")))}
        for entry in sheet.get("ignored_identities", [])
    ]
    masked["traits"] = {
        kind: {shown(name): trait(name, entry) for name, entry in group.items()}
        for kind, group in traits.items()
    }
    masked["computed"] = {
        name: computed(name, value) for name, value in sheet.get("computed", {}).items()
    }
    masked["segments"] = [
        {
            **membership,
            "explanation": _masked_explanation(
                membership.get("explanation"), personal, needles, computed
            ),
        }
        for membership in sheet.get("segments", [])
    ]
    masked["merges"] = [_masked_record(record) for record in sheet.get("merges", [])]
    masked["unmerges"] = [_masked_record(record) for record in sheet.get("unmerges", [])]
    masked["conflicts"] = [_masked_record(record) for record in sheet.get("conflicts", [])]
    return masked


def _identifiers_of(sheet: Mapping[str, Any]) -> list[str]:
    values = [
        str(entry.get("value", ""))
        for field in ("identities", "ignored_identities")
        for entry in sheet.get(field, [])
    ]
    for field in ("merges", "unmerges", "conflicts"):
        for record in sheet.get(field, []):
            values.extend(split_identity(key)[1] for key in _keys_in(record))
    return values


def _keys_in(record: Mapping[str, Any]) -> list[str]:
    """The identities (text form) a merge, unmerge or conflict record names."""
    keys = [key for key in record.get("identities", []) if isinstance(key, str)]
    keys.extend(
        record[field] for field in ("filed_under", "identity") if isinstance(record.get(field), str)
    )
    return keys


def _masked_record(record: Mapping[str, Any]) -> dict[str, Any]:
    masked = dict(record)
    if isinstance(record.get("identities"), list):
        masked["identities"] = [mask_key(str(key)) for key in record["identities"]]
    for field in ("filed_under", "identity"):
        if field in record:
            masked[field] = mask_key(str(record[field]))
    return masked


def _masked_explanation(
    explanation: Any,
    personal: set[str],
    needles: _Needles,
    computed: Callable[[str, Any], Any],
) -> Any:
    """A segment explanation with the profile's values masked as the sheet masks them; the
    operand of a condition on a personal value too (`email eq ...` that holds tells it)."""
    if isinstance(explanation, list):
        return [_masked_explanation(item, personal, needles, computed) for item in explanation]
    if not isinstance(explanation, Mapping):
        return explanation
    if "actual" not in explanation:
        return {
            key: _masked_explanation(value, personal, needles, computed)
            for key, value in explanation.items()
        }
    leaf = dict(explanation)
    # values compared with: `exists` and the time windows say nothing of the person
    operators = [key for key in leaf if key in OPERATORS and key not in _NOT_VALUES]
    if "identity" in leaf or ("trait" in leaf and leaf["trait"] in personal):
        hide: Callable[[Any], Any] = _mask_each
    elif "trait" in leaf:
        hide = needles.free
    elif "computed" in leaf:
        name = str(leaf["computed"])
        hide = lambda value: computed(name, value)  # noqa: E731
    else:
        return leaf  # times, counts, consent states, memberships
    leaf["actual"] = hide(leaf["actual"])
    for operator in operators:
        leaf[operator] = hide(leaf[operator])
    return leaf


def _mask_each(value: Any) -> Any:
    """Each value of a list (an identity's values, an `in` operand), or the value."""
    if isinstance(value, list):
        return [mask_value(item) for item in value]
    return mask_value(value)


# --- events -----------------------------------------------------------------------------------


def masked_event(message: Mapping[str, Any]) -> dict[str, Any]:
    """A stored event (message) as a viewer sees it; the message given is left as it is.

    Two passes over the message: the first finds the values the rule masks, the second masks
    them and every other text that gives one of them away (wherever it is in the event)."""
    needles = _Needles()

    def gather(rule: str, value: Any) -> Any:
        if rule == "key" and isinstance(value, str):
            needles.add([split_identity(value)[1]])
        elif rule == "identifier" and isinstance(value, int | float):
            needles.add([str(value)])
        elif rule in ("identifier", "value", "key"):
            needles.add([value])
        return value

    def mask(rule: str, value: Any) -> Any:
        if rule == "readable":
            return value
        if rule == "free":
            return needles.free(value)
        if rule == "key" and isinstance(value, str):
            return mask_key(value)
        if rule == "identifier" and isinstance(value, str):
            return mask_identifier(value)
        return mask_value(value)

    _walk(message, (), gather, lambda name: name)
    return dict(_walk(message, (), mask, needles.free))


Path = tuple[str | int, ...]


def _walk(
    value: Any, path: Path, visit: Callable[[str, Any], Any], name: Callable[[str], Any]
) -> Any:
    """The event rebuilt leaf by leaf: `visit(rule, value)` where `_rule` decides, and for
    every leaf below (`free`); `name` is applied to names (keys) that are not the event's
    own fields."""
    rule = _rule(path, value)
    if rule is not None:
        return visit(rule, value)
    if isinstance(value, Mapping):
        answer: dict[Any, Any] = {}
        for key, item in value.items():
            shown = key if not path or not isinstance(key, str) else name(key)
            if shown in answer:
                shown = f"{shown} ({len(answer)})"  # two names masked alike: both kept
            answer[shown] = _walk(item, (*path, key), visit, name)
        return answer
    if isinstance(value, list):
        return [_walk(item, (*path, index), visit, name) for index, item in enumerate(value)]
    return visit("free", value)


def _rule(path: Path, value: Any) -> str | None:
    """How the value at `path` of an event is shown; None: decided below it."""
    if not path:
        return None
    holder = 1 if path[0] == "traits" else 2 if path[:2] in _WHOLE else 0
    if holder:  # a value each, the names kept
        return None if len(path) == holder and isinstance(value, Mapping) else "value"
    for pattern, rule in _PATTERNS:
        if len(pattern) == len(path) and all(
            isinstance(step, int) if part is _INDEX else step == part
            for part, step in zip(pattern, path, strict=True)
        ):
            return rule
    if path[0] == "properties" and len(path) >= 2 and isinstance(path[-1], str):
        return "value" if personal_name(path[-1]) else None
    return None


_INDEX = object()  # any position in a list
_WHOLE = (("context", "traits"), ("context", "location"))
_PATTERNS: tuple[tuple[tuple[Any, ...], str], ...] = (
    *(((field,), "readable") for field in _EVENT_READABLE),
    *(((field,), "identifier") for field in _EVENT_IDENTIFIERS),
    (("context", "ip"), "identifier"),
    *((("context", "device", field), "identifier") for field in _DEVICE_IDENTIFIERS),
    (("context", "externalIds", _INDEX, "id"), "identifier"),
    (("context", "cdp", "ignored_identities", _INDEX), "key"),
)
