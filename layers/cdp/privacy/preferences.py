"""The forms API's work: a person asked a few questions at a time, their answers stored as
what they declared, and the preference center where they see and change their choices.

Authenticated by the write key (it is in the web page); a signed-in user additionally proves
who they are with a signature of their user id made by the website's back end. Pure of HTTP:
the handler reads the request, this decides and stores.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, Protocol

from cdp.access.keys import ApiKey, authenticate
from cdp.intake.collector import screen
from cdp.intake.messages import PLACEHOLDER, Intake, read_request
from cdp.intake.verification import verified
from cdp.privacy.forms import (
    FormDefinition,
    FormField,
    check_answers,
    check_consent,
    declared_messages,
    declared_now,
    next_questions,
)
from cdp.profiles.identity import (
    ANONYMOUS_ID,
    EMAIL,
    USER_ID,
    Placeholders,
    fits_a_key,
    identity_key,
    identity_type,
)
from cdp.profiles.profile import Profile
from cdp.runtime.errors import ForbiddenError, InvalidRequestError, NotFoundError

# What a person answers here, or sets in the preference center, is what they declared.
DECLARED = frozenset({"declared"})
FORM = "form"


class ProfileFinder(Protocol):
    def find(self, identity: str) -> Profile | None: ...


class Definitions(Protocol):
    def definitions(self, kind: str) -> list[dict[str, Any]]: ...


class EventStore(Protocol):
    def save(
        self, intake: Intake, *, source: str, received_at: datetime, request_id: str
    ) -> Any: ...


class Person:
    """Who a request is about, and what it may see: a signed-in user (verified by signature)
    sees and changes everything declared; an anonymous visitor only their own anonymous
    profile, and no personal data once that profile belongs to a known person."""

    def __init__(self, identity: str, verified_user: bool, profile: Profile | None) -> None:
        self.identity = identity
        self.verified_user = verified_user
        self.profile = profile

    @property
    def message_identity(self) -> dict[str, str]:
        kind, _, value = self.identity.partition(":")
        return {"userId" if kind == USER_ID else "anonymousId": value}

    @property
    def known(self) -> bool:
        identities = self.profile.identities if self.profile else {}
        return any(identity_type(key) in (USER_ID, EMAIL) for key in identities)

    @property
    def may_see_personal_data(self) -> bool:
        return self.verified_user or not self.known


class PreferenceCenter:
    """The forms API's work, given what a request carries: the write key it presented (Basic
    auth, else `writeKey` in the body or query), its query or body (read and parsed by the
    handler), and its request id."""

    def __init__(
        self,
        *,
        purposes: list[str],
        identity_blocklist: list[str],
        find_key: Callable[[str], ApiKey | None],
        profiles: ProfileFinder,
        config: Definitions,
        store: EventStore,
        suppressed: Callable[[set[str]], set[str]],
        identity_secret: Callable[[], str],
        clock: Callable[[], datetime],
    ) -> None:
        self.purposes = purposes
        self.find_key = find_key
        self.profiles = profiles
        self.config = config
        self.store = store
        self.suppressed = suppressed
        self.identity_secret = identity_secret
        self.clock = clock
        self.placeholders = Placeholders.configured(identity_blocklist)

    # -- the four routes ----------------------------------------------------------------

    def next_questions(
        self, form_id: str, query: dict[str, str], key: str | None
    ) -> dict[str, Any]:
        self.write_key(key)
        definition = self.form(form_id)
        who = self.person(query)
        declared = declared_now(who.profile.traits, self.clock()) if who.profile else {}
        questions = next_questions(definition, declared, limit=_limit(query.get("limit")))
        return {
            "form": {"id": definition.id, "name": definition.name},
            "questions": questions,
            "remaining": sum(1 for f in definition.fields if f.trait not in declared),
            "consent": {
                "purposes": definition.consent_purposes,
                "text": definition.consent_text,
                "version": definition.consent_version,
                "current": self.consent_view(who, definition.consent_purposes),
            },
        }

    def submit(
        self, form_id: str, data: dict[str, Any], key: str | None, request_id: str
    ) -> dict[str, Any]:
        api_key = self.write_key(key)
        definition = self.form(form_id)
        who = self.person(data)
        answers = data.get("answers")
        if not isinstance(answers, dict) or not answers:
            raise InvalidRequestError("answers: send an object of trait: value")
        fields = {field.trait: field for field in definition.fields}
        asked = [fields[trait] for trait in answers if trait in fields]
        clean, problems = check_answers(fields, answers, require=asked)
        consent, consent_problems = check_consent(data.get("consent"), self.purposes)
        problems |= consent_problems
        not_asked = set(consent) - set(definition.consent_purposes)
        problems |= {f"consent.{p}": "is not asked by this form" for p in sorted(not_asked)}
        if problems:
            raise InvalidRequestError(_problem_text(problems), details=problems)
        when = _when(data.get("timestamp"), self.clock())
        submission = _submission_id(
            data.get("submissionId"),
            (api_key.source, definition.id, who.identity, clean, consent),
            client_time=data.get("timestamp"),
            now=self.clock(),
        )
        messages = declared_messages(
            identity=who.message_identity,
            answers=clean,
            fields=fields,
            consent=consent,
            consent_version=definition.consent_version,
            message_id=f"form-{submission}",
            timestamp=when,
            form_id=definition.id,
        )
        self.save(messages, api_key, request_id)
        declared = declared_now(who.profile.traits, self.clock()) if who.profile else {}
        declared |= {trait: value for trait, value in clean.items() if value is not None}
        # Answers of this visit still on their way through the pipeline (the page says which):
        # not asked again. This only decides which questions come next.
        earlier = data.get("answered")
        if isinstance(earlier, list):
            declared |= {trait: True for trait in earlier[:50] if isinstance(trait, str)}
        return {
            "success": True,
            "submissionId": submission,
            "stored": sorted(clean),
            "next": next_questions(definition, declared),
        }

    def preferences(self, query: dict[str, str], key: str | None) -> dict[str, Any]:
        self.write_key(key)
        who = self.person(query)
        answer: dict[str, Any] = {
            "identity": who.identity.partition(":")[0],
            "consent": self.consent_view(who, self.purposes),
            "purposes": self.purposes,
        }
        if not who.may_see_personal_data:
            answer["sign_in_required"] = True
            return answer
        fields = self.all_fields()
        declared = declared_now(who.profile.traits, self.clock()) if who.profile else {}
        answer["preferences"] = {
            trait: {
                "value": declared[trait].value,
                "label": fields[trait].label,
                "set_at": declared[trait].at,
                "expires_at": declared[trait].expires_at,
            }
            for trait in sorted(declared)
            if trait in fields
        }
        answer["questions"] = [field.question() for field in fields.values()]
        return answer

    def change_preferences(
        self, data: dict[str, Any], key: str | None, request_id: str
    ) -> dict[str, Any]:
        api_key = self.write_key(key)
        who = self.person(data)
        consent, problems = check_consent(data.get("consent"), self.purposes)
        changes = data.get("preferences") or {}
        if not isinstance(changes, dict):
            raise InvalidRequestError("preferences: send an object of trait: value")
        if changes and not who.may_see_personal_data:
            raise ForbiddenError("sign in to change the preferences of a known person")
        fields = self.all_fields()
        clean, field_problems = check_answers(fields, changes, require=[])
        problems |= field_problems
        if problems:
            raise InvalidRequestError(_problem_text(problems), details=problems)
        if not clean and not consent:
            raise InvalidRequestError("send consent, preferences, or both")
        when = _when(data.get("timestamp"), self.clock())
        version = _text(data.get("consentVersion"))
        submission = _submission_id(
            data.get("submissionId"),
            (api_key.source, "preferences", who.identity, clean, consent, version),
            client_time=data.get("timestamp"),
            now=self.clock(),
        )
        messages = declared_messages(
            identity=who.message_identity,
            answers=clean,
            fields=fields,
            consent=consent,
            consent_version=version,
            message_id=f"prefs-{submission}",
            timestamp=when,
            form_id=None,
        )
        self.save(messages, api_key, request_id)
        return {"success": True, "changed": sorted(clean), "consent": consent}

    # -- what they share ----------------------------------------------------------------

    def write_key(self, presented: str | None) -> ApiKey:
        return authenticate(
            presented,
            "write",
            self.find_key,
            self.clock().timestamp(),
        )

    def person(self, values: dict[str, Any]) -> Person:
        user_id, anonymous_id = values.get("userId"), values.get("anonymousId")
        if user_id is not None:
            if not isinstance(user_id, str) or not fits_a_key(user_id):
                raise InvalidRequestError("userId: must be text of at most 512 characters")
            if not verified(user_id, values.get("signature"), self.identity_secret()):
                raise ForbiddenError(
                    "a userId needs a valid signature from your website's back end "
                    "(HMAC-SHA256 of the user id with the identity secret)"
                )
            identity = self.identity(USER_ID, "userId", user_id)
            return Person(identity, verified_user=True, profile=self.profiles.find(identity))
        if not isinstance(anonymous_id, str) or not fits_a_key(anonymous_id):
            raise InvalidRequestError(
                "anonymousId (text of at most 512 characters) or userId (with signature) "
                "is required"
            )
        identity = self.identity(ANONYMOUS_ID, "anonymousId", anonymous_id)
        return Person(identity, verified_user=False, profile=self.profiles.find(identity))

    def identity(self, kind: str, field: str, value: str) -> str:
        identity = identity_key(kind, value)
        if self.placeholders.blocks(identity) or not value.strip():
            raise InvalidRequestError(f"{field}: {value!r} is {PLACEHOLDER}")
        return identity

    def form(self, form_id: str) -> FormDefinition:
        for item in self.config.definitions(FORM):
            if item.get("id") == form_id:
                return FormDefinition.model_validate(item)
        raise NotFoundError(f"no form is called {form_id}")

    def all_fields(self) -> dict[str, FormField]:
        """Every declared trait a preference center may show: the fields of every form."""
        fields: dict[str, FormField] = {}
        for item in self.config.definitions(FORM):
            for field in FormDefinition.model_validate(item).fields:
                fields.setdefault(field.trait, field)
        return fields

    def save(self, messages: list[dict[str, Any]], key: ApiKey, request_id: str) -> None:
        now = self.clock()
        intake = read_request(
            {"batch": messages},
            "batch",
            source=key.source,
            received_at=now,
            claims=DECLARED,
            placeholders=self.placeholders,
        )
        if intake.rejections:
            raise InvalidRequestError(intake.rejections[0].reason)
        # What a person declares is stored for the purpose shown with each question: the
        # analytics-consent screen does not apply; the erasure suppression does.
        intake, _ = screen(intake, consent_required=False, suppressed=self.suppressed)
        self.store.save(intake, source=key.source, received_at=now, request_id=request_id)

    @staticmethod
    def consent_view(person: Person, purposes: list[str]) -> dict[str, Any]:
        current = person.profile.consent if person.profile else {}
        return {
            purpose: {
                key: current[purpose][key]
                for key in ("state", "at", "version")
                if purpose in current and key in current[purpose]
            }
            or {"state": None}
            for purpose in purposes
        }


def _limit(value: str | None) -> int | None:
    if value is None:
        return None
    if not (value.isascii() and value.isdigit()) or not 1 <= int(value) <= 10:
        raise InvalidRequestError("limit: must be a whole number from 1 to 10")
    return int(value)


def _submission_id(value: Any, content: tuple[Any, ...], *, client_time: Any, now: datetime) -> str:
    """The id of a submission, the same on every resend of it, so it is stored once.

    The client's own id when it sends one. Otherwise one derived from what was submitted, by
    whom, and when: the client's time if it sent one, else the day it arrives (the same
    answers sent again on another day are a new submission)."""
    if value is not None:
        if not isinstance(value, str) or not 8 <= len(value) <= 64 or not value.isprintable():
            raise InvalidRequestError("submissionId: must be 8 to 64 characters of text")
        return value
    moment = str(client_time) if client_time is not None else now.date().isoformat()
    text = json.dumps([*content, moment], sort_keys=True, separators=(",", ":"))
    return "d" + hashlib.sha256(text.encode()).hexdigest()[:31]


def _when(value: Any, now: datetime) -> datetime:
    """The client's time of a submission (kept on retries), or now."""
    if value is None:
        return now
    try:
        moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        raise InvalidRequestError("timestamp: must be an ISO 8601 time") from None
    if moment.tzinfo is None or abs(moment - now) > timedelta(days=1):
        return now
    return moment


def _text(value: Any) -> str | None:
    return value[:64] if isinstance(value, str) and value else None


def _problem_text(problems: dict[str, str]) -> str:
    """The refusal in words, saying what it is before naming the client's own fields (which
    can be anything, and are given whole under `fields`)."""
    listed = "; ".join(
        f"{_shortened(name)}: {problem}" for name, problem in sorted(problems.items())
    )
    return f"some answers were refused: {listed}"


def _shortened(name: str, limit: int = 40) -> str:
    return name if len(name) <= limit else f"{name[: limit - 1]}…"
