"""Zero-party data: progressive forms that ask a few questions at a time, each with the reason
it is asked, and turn the answers into *declared* traits.

A form is configuration: its fields (the trait each fills, label, type, options, whether
required, the purpose text shown to the person, how long an answer stays valid) in order of
priority, and the consent purposes it asks for. `next_questions` picks what to ask a person
now: the fields they have not answered, or whose answer expired. `submission_messages` turns
a submission into what flows through the pipeline like any other event: an identify with the
answers as declared traits (with expiry) and the consent given, and a `Form Submitted` track.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Annotated, Any, Literal

from pydantic import ConfigDict, Field, StringConstraints, model_validator

from cdp.profiles.traits import TraitTable, current_traits
from cdp.runtime.clock import iso
from cdp.runtime.errors import InvalidRequestError
from cdp.runtime.models import Model

FieldType = Literal["text", "number", "boolean", "select", "multiselect", "email", "date"]
TraitName = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,63}$")]
Purpose = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,63}$")]
FORM_SUBMITTED = "Form Submitted"
_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]+$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


class FormField(Model):
    model_config = ConfigDict(frozen=True, extra="forbid")

    trait: TraitName
    label: str = Field(min_length=1, max_length=200)
    type: FieldType = "text"
    options: list[Annotated[str, StringConstraints(min_length=1, max_length=100)]] | None = None
    required: bool = False
    purpose: str = Field(
        min_length=1,
        max_length=500,
        description="shown with the question: why we ask, and what the person gets for it",
    )
    valid_days: int | None = Field(
        default=None, ge=1, le=3650, description="an answer expires after this long"
    )
    max_length: int = Field(default=200, ge=1, le=500)

    @model_validator(mode="after")
    def _options(self) -> FormField:
        if self.type in ("select", "multiselect") and not self.options:
            raise ValueError(f"field {self.trait}: a {self.type} needs options")
        if self.type not in ("select", "multiselect") and self.options:
            raise ValueError(f"field {self.trait}: options are for select and multiselect")
        return self

    def question(self) -> dict[str, Any]:
        question = {
            "trait": self.trait,
            "label": self.label,
            "type": self.type,
            "required": self.required,
            "purpose": self.purpose,
        }
        if self.options:
            question["options"] = self.options
        return question


class FormDefinition(Model):
    model_config = ConfigDict(frozen=True, extra="forbid")

    id: Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_-]{0,63}$")]
    name: str = Field(min_length=1, max_length=200)
    fields: list[FormField] = Field(min_length=1, max_length=50)
    questions_per_step: int = Field(default=2, ge=1, le=10)
    consent_purposes: list[Purpose] = Field(default_factory=list)
    consent_text: str | None = Field(default=None, max_length=2000)
    consent_version: str = Field(default="1", min_length=1, max_length=64)

    @model_validator(mode="after")
    def _unique(self) -> FormDefinition:
        traits = [f.trait for f in self.fields]
        if len(traits) != len(set(traits)):
            raise ValueError("each trait may be asked once per form")
        return self

    def field(self, trait: str) -> FormField | None:
        return next((f for f in self.fields if f.trait == trait), None)


def check_form_change(
    definition: FormDefinition, others: Iterable[FormDefinition], purposes: Sequence[str]
) -> None:
    """A form may ask for consent to this deployment's purposes only, and ask for a trait the
    way every other form asks for it."""
    unknown = [p for p in definition.consent_purposes if p not in purposes]
    if unknown:
        raise InvalidRequestError(
            f"consent_purposes: {unknown[0]!r} is not a purpose of this deployment "
            f"({', '.join(purposes)})"
        )
    for other in others:
        if other.id == definition.id:
            continue
        for field in definition.fields:
            theirs = other.field(field.trait)
            if theirs is not None and theirs.type != field.type:
                raise InvalidRequestError(
                    f"fields: {field.trait!r} is a {theirs.type} in form {other.id!r}; "
                    "a trait is asked the same way everywhere"
                )


def declared_now(traits: TraitTable, now: datetime) -> dict[str, Any]:
    """Trait name -> the declared value that counts now (live, not expired, not removed)."""
    answer = {}
    for name, (kind, value) in current_traits(traits, iso(now)).items():
        if kind == "declared":
            answer[name] = value
    return answer


def next_questions(
    form: FormDefinition, declared: dict[str, Any], *, limit: int | None = None
) -> list[dict[str, Any]]:
    """The next questions for a person: unanswered (or expired) fields, in the form's order."""
    open_fields = [f for f in form.fields if f.trait not in declared]
    return [f.question() for f in open_fields[: limit or form.questions_per_step]]


def check_answers(
    fields: dict[str, FormField], answers: dict[str, Any], *, require: list[FormField]
) -> tuple[dict[str, Any], dict[str, str]]:
    """Validated answers (normalised) and, per field, what is wrong."""
    problems: dict[str, str] = {}
    clean: dict[str, Any] = {}
    for trait, value in answers.items():
        field = fields.get(trait)
        if field is None:
            problems[trait] = "is not a question of this form"
            continue
        if value is None or value in ("", []):
            if field.required:
                problems[trait] = "is required"
            else:
                clean[trait] = None  # a cleared answer removes the declared trait
            continue
        normalised, problem = _check(field, value)
        if problem:
            problems[trait] = problem
        else:
            clean[trait] = normalised
    for field in require:
        if field.required and field.trait not in answers:
            problems.setdefault(field.trait, "is required")
    return clean, problems


def _check(field: FormField, value: Any) -> tuple[Any, str | None]:
    kind = field.type
    if kind == "boolean":
        return (value, None) if isinstance(value, bool) else (None, "must be true or false")
    if kind == "number":
        if isinstance(value, bool) or not isinstance(value, int | float):
            return None, "must be a number"
        return value, None
    if kind == "multiselect":
        return _check_choices(field, value)
    return _check_text(field, value)


def _check_choices(field: FormField, value: Any) -> tuple[Any, str | None]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        return None, "must be a list of options"
    unknown = [v for v in value if v not in (field.options or [])]
    if unknown:
        return None, f"{unknown[0]!r} is not one of the options"
    return sorted(set(value)), None


def _check_text(field: FormField, value: Any) -> tuple[Any, str | None]:  # noqa: PLR0911
    kind = field.type
    if not isinstance(value, str):
        return None, "must be text"
    text = value.strip()
    if len(text) > field.max_length:
        return None, f"must be at most {field.max_length} characters"
    if kind == "select" and text not in (field.options or []):
        return None, f"must be one of {', '.join(field.options or [])}"
    if kind == "email" and not _EMAIL.match(text):
        return None, "must be an e-mail address"
    if kind == "date":
        if not _DATE.match(text):
            return None, "must be a date such as 2026-11-23"
        try:
            datetime.strptime(text, "%Y-%m-%d")
        except ValueError:
            return None, "must be a date that exists"
    return text, None


def check_consent(consent: Any, purposes: list[str]) -> tuple[dict[str, bool], dict[str, str]]:
    if consent is None:
        return {}, {}
    if not isinstance(consent, dict):
        return {}, {"consent": "must be an object of purpose: true or false"}
    problems = {
        f"consent.{purpose}": (
            "is not a purpose of this deployment"
            if purpose not in purposes
            else "must be true or false"
        )
        for purpose, granted in consent.items()
        if purpose not in purposes or not isinstance(granted, bool)
    }
    return {p: g for p, g in consent.items() if p in purposes and isinstance(g, bool)}, problems


def declared_messages(
    *,
    identity: dict[str, str],
    answers: dict[str, Any],
    fields: dict[str, FormField],
    consent: dict[str, bool],
    consent_version: str | None,
    message_id: str,
    timestamp: datetime,
    form_id: str | None,
) -> list[dict[str, Any]]:
    """The messages a submission (or a preference-center change) puts into the pipeline."""
    context: dict[str, Any] = {"cdp": {"provenance": "declared"}}
    expiries = {
        trait: iso(timestamp + timedelta(days=fields[trait].valid_days or 0))
        for trait in answers
        if trait in fields and fields[trait].valid_days
    }
    if expiries:
        context["cdp"]["expires"] = expiries
    if consent:
        context["consent"] = {
            "categoryPreferences": consent,
            **({"version": consent_version} if consent_version else {}),
        }
    if form_id:
        context["form"] = {"id": form_id}
    base = {**identity, "timestamp": iso(timestamp)}
    messages: list[dict[str, Any]] = []
    if answers or consent:
        messages.append(
            {
                **base,
                "type": "identify",
                "messageId": f"{message_id}-declared",
                "traits": answers,
                "context": context,
            }
        )
    if form_id:
        messages.append(
            {
                **base,
                "type": "track",
                "event": FORM_SUBMITTED,
                "messageId": message_id,
                # Which questions were answered, not the answers: those are traits.
                "properties": {"form_id": form_id, "answered": sorted(answers)},
                "context": {"form": {"id": form_id}},
            }
        )
    return messages
