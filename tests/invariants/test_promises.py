"""The platform's promises, checked over random sequences of what it sees: sends and resends
through every client kind (Segment's and RudderStack's time fields, hand-written clients, the
forms API, e-mail webhooks, the import bucket), consent changes, segment and computed-trait
changes, clock jumps with the scheduler, merges (right and mistaken), placeholder sign-ins,
unmerges and erasures. After every step:

- exactly once: the events table holds each message once, and the profiles count each once;
- retention: every stored profile, event and refused message has a TTL;
- one person per profile: no profile joins two people (but for a mistaken merge not yet
  undone), and no placeholder is ever an identity;
- consent: a destination receives a person only with its purpose granted, once more to say
  it was withdrawn, and nothing after; a destination's tool holds each person in exactly the
  audiences of their segments while they grant its purpose, and in none otherwise;
- explain equals membership;
- erasure: no table holds an erased person's identifiers, in any form, and no file of the
  data lake.

`make test` runs a short form; `make soak` a long one (CDP_INVARIANT_EXAMPLES, _STEPS).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import shutil
import uuid
from datetime import timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from cdp.profiles.identity import split_identity
from cdp.runtime import clock
from infra.wiring import FUNCTIONS, resource_env_vars
from tests.invariants.model import PLACEHOLDERS, Model, Person
from tests.invariants.platform import TOOL_SECRET, Platform, clear_caches, receiver

PEOPLE = 3
PURPOSES = ("marketing", "analytics")
WEBHOOK_SECRET = "invariants-webhook-secret-32chars"
FORM = {
    "id": "household",
    "name": "Household",
    "consent_purposes": ["marketing"],
    "fields": [{"trait": "children", "label": "Children?", "type": "number", "purpose": "x"}],
}
SEGMENTS = {
    "buyers": {"condition": {"computed": "orders", "gte": 1}},
    "big": {"condition": {"computed": "revenue_30d", "gte": 100}},
    "fans": {"purpose": "marketing", "condition": {"trait": "plan", "eq": "pro"}},
    "quiet": {"condition": {"profile": "last_seen", "older_than": 10}},
    "parents": {"condition": {"trait": "children", "gte": 1}},
}
TIMES = ("segment", "rudderstack", "bare", "timestamp only")
RESENDS = ("the same", "a new sentAt", "no times", "a new timestamp", "originalTimestamp only")

_session: dict[str, Any] = {}


def _times(variant: str) -> dict[str, str]:
    now = clock.utc_now()
    before, sent = clock.iso(now - timedelta(minutes=1)), clock.iso(now)
    return {
        "segment": {"timestamp": before, "sentAt": sent},
        "rudderstack": {"originalTimestamp": before, "sentAt": sent},
        "bare": {},
        "timestamp only": {"timestamp": before},
    }[variant]


class Promises(RuleBasedStateMachine):
    checks = 0  # how often the promises were checked, over every example of a run

    def __init__(self) -> None:
        super().__init__()
        self.started_at = clock._offset
        self.platform = Platform.fresh(_session["dynamodb"])
        self.model = Model([Person.new(f"person {n}") for n in range(PEOPLE)])
        self.sent: list[tuple[str, dict[str, Any]]] = []
        self.segments: set[str] = set()
        # Stored events no profile counts: another person's event that an erased profile
        # counted (it named the erased address on a shared device) stays, redacted, in that
        # person's history, and counts again only when their profile is rebuilt (an unmerge).
        self.uncounted = 0
        self.unmerged = 0  # unmerges done
        self.withdrawn: list[tuple[str, str]] = []  # (user id, purpose) withdrawn this step
        self.checked_deliveries = 0
        self.synced: set[str] = set()  # the segments the tool's destination receives
        for path, body in (
            ("/v1/forms/household", FORM),
            ("/v1/webhooks/mailer", {"source": "mailer", "format": "generic",
                                     "secret": WEBHOOK_SECRET, "signature_header": "X-Sig",
                                     "mapping": {"events": "events", "email": "to",
                                                 "event": "kind", "id": "id"}}),
            ("/v1/destinations/tool", self._tool()),
        ):  # fmt: skip
            assert self.platform.admin("PUT", path, body).status == 200

    def _tool(self) -> dict[str, Any]:
        """A destination for marketing (the signed webhook), receiving each segment defined
        so far as an audience of the same name in capitals."""
        return {
            "id": "tool", "name": "Tool", "connector": "webhook", "purpose": "marketing",
            "settings": {"url": "https://tool.example/hooks/cdp"}, "secret": TOOL_SECRET,
            "audiences": {segment: segment.upper() for segment in sorted(self.synced)},
        }  # fmt: skip

    def teardown(self) -> None:
        clock._offset = self.started_at
        clear_caches()
        shutil.rmtree(self.platform.lake, ignore_errors=True)  # one per example, in /tmp

    # -- sending -------------------------------------------------------------------------

    def _send(self, path: str, message: dict[str, Any], partition: str, revenue: float = 0.0):
        identities = _identities_of(message)
        body = {"batch": [message]} if path == "/v1/batch" else message
        answer = self.platform.collect(path, body)
        assert answer.status == 200, answer.body
        if self.model.stored(identities):
            assert answer.json().get("not_stored") is None, answer.body
            self.model.link([i for i in identities if not _placeholder(i)])
            self._expect(partition, message["messageId"], revenue)
            self.sent.append((path, message))
        else:
            assert answer.json().get("not_stored") == 1, answer.body

    def _expect(self, partition: str, message_id: str, revenue: float = 0.0) -> None:
        self.model.expected.setdefault((partition, message_id), revenue)

    @rule(
        person=st.integers(0, PEOPLE - 1),
        device=st.integers(0, 2),
        order=st.booleans(),
        times=st.sampled_from(TIMES),
        batch=st.booleans(),
        revenue=st.integers(1, 150),
    )
    def browse(
        self, person: int, device: int, order: bool, times: str, batch: bool, revenue: int
    ) -> None:
        """A visitor on one of their devices, with whatever times their library sends."""
        anonymous = self.model.person(person).devices[device]
        message: dict[str, Any] = {
            "type": "track" if order else "page",
            "anonymousId": anonymous,
            "messageId": uuid.uuid4().hex,
            **_times(times),
        }
        if order:
            message |= {"event": "Order Completed", "properties": {"revenue": revenue}}
        path = "/v1/batch" if batch else f"/v1/{message['type']}"
        self._send(path, message, f"anonymous_id:{anonymous}", revenue if order else 0.0)

    @rule(
        person=st.integers(0, PEOPLE - 1),
        device=st.integers(0, 2),
        plan=st.sampled_from(["free", "pro"]),
        times=st.sampled_from(TIMES),
    )
    def sign_in(self, person: int, device: int, plan: str, times: str) -> None:
        who = self.model.person(person)
        message = {
            "type": "identify",
            "userId": who.user_id,
            "anonymousId": who.devices[device],
            "messageId": uuid.uuid4().hex,
            "traits": {"email": who.email, "plan": plan},
            **_times(times),
        }
        self._send("/v1/batch", message, f"user_id:{who.user_id}")

    @rule(person=st.integers(0, PEOPLE - 1), other=st.integers(1, PEOPLE - 1))
    def sign_in_on_someone_elses_device(self, person: int, other: int) -> None:
        """The family laptop: a mistaken merge, if the device had no user yet."""
        who, owner = self.model.person(person), self.model.person(person + other)
        device = owner.devices[0]
        key = f"anonymous_id:{device}"
        if self.model.owner.get(key) != owner.name:
            return  # given back by an unmerge already: a device of its own now
        message = {"type": "identify", "userId": who.user_id, "anonymousId": device,
                   "messageId": uuid.uuid4().hex}  # fmt: skip
        before = self.model.of(key)
        self._send("/v1/batch", message, f"user_id:{who.user_id}")
        if self.model.of(key) != before:  # merged: whatever of the owner's came along
            merged = self.model.of(key)
            self.model.mistaken |= {i for i in merged if self.model.owner.get(i) != who.name}

    @rule(
        person=st.integers(0, PEOPLE - 1),
        device=st.integers(0, 2),
        placeholder=st.sampled_from(PLACEHOLDERS),
    )
    def sign_in_with_a_placeholder_user_id(self, person: int, device: int, placeholder: str):
        who = self.model.person(person)
        message = {"type": "identify", "userId": placeholder, "anonymousId": who.devices[device],
                   "traits": {"email": who.email}, "messageId": uuid.uuid4().hex}  # fmt: skip
        self._send("/v1/batch", message, f"anonymous_id:{who.devices[device]}")

    @precondition(lambda self: self.sent)
    @rule(index=st.integers(0, 10_000), how=st.sampled_from(RESENDS))
    def resend(self, index: int, how: str) -> None:
        """A lost answer: the client sends the message again, its times as it likes."""
        path, message = self.sent[index % len(self.sent)]
        again = {k: v for k, v in message.items() if k not in ("timestamp", "originalTimestamp",
                                                                "sentAt")}  # fmt: skip
        now = clock.iso(clock.utc_now())
        again |= {
            "the same": {k: v for k, v in message.items() if k in ("timestamp", "sentAt",
                                                                   "originalTimestamp")},
            "a new sentAt": {"sentAt": now},
            "no times": {},
            "a new timestamp": {"timestamp": now},
            "originalTimestamp only": {"originalTimestamp": now},
        }[how]  # fmt: skip
        answer = self.platform.collect(path, {"batch": [again]} if path == "/v1/batch" else again)
        assert answer.status == 200, answer.body

    @rule(
        person=st.integers(0, PEOPLE - 1), purpose=st.sampled_from(PURPOSES), granted=st.booleans()
    )
    def consent(self, person: int, purpose: str, granted: bool) -> None:
        who = self.model.person(person)
        message = {"type": "track", "userId": who.user_id, "event": "Consent Updated",
                   "messageId": uuid.uuid4().hex,
                   "context": {"consent": {"categoryPreferences": {purpose: granted}}}}  # fmt: skip
        stored = self.model.stored([f"user_id:{who.user_id}"])
        self._send("/v1/track", message, f"user_id:{who.user_id}")
        if stored:
            if self.model.granted.get((who.user_id, purpose)) and not granted:
                self.withdrawn.append((who.user_id, purpose))
            self.model.granted[(who.user_id, purpose)] = granted

    @rule(
        person=st.integers(0, PEOPLE - 1),
        device=st.integers(0, 2),
        children=st.integers(0, 3),
        with_id=st.booleans(),
        with_time=st.booleans(),
    )
    def answer_a_form(
        self, person: int, device: int, children: int, with_id: bool, with_time: bool
    ) -> None:
        """Answers sent twice (a retry), with or without the client's id and time."""
        anonymous = self.model.person(person).devices[device]
        body: dict[str, Any] = {"anonymousId": anonymous, "answers": {"children": children}}
        if with_id:
            body["submissionId"] = uuid.uuid4().hex
        if with_time:
            body["timestamp"] = clock.iso(clock.utc_now())
        ids = set()
        for _ in range(2):
            answer = self.platform.browser("POST", "/v1/forms/household/submissions", body)
            assert answer.status == 200, answer.body
            ids.add(answer.json()["submissionId"])
            clock.advance(timedelta(seconds=3))
        assert len(ids) == 1, "a retried submission got another id"
        if self.model.stored([f"anonymous_id:{anonymous}"]):
            [submission] = ids
            for message_id in (f"form-{submission}-declared", f"form-{submission}"):
                self._expect(f"anonymous_id:{anonymous}", message_id)

    @rule(person=st.integers(0, PEOPLE - 1), kind=st.sampled_from(["opened", "clicked"]))
    def email_engagement(self, person: int, kind: str) -> None:
        """An e-mail tool reports an open or a click, and delivers it twice."""
        who = self.model.person(person)
        event_id = uuid.uuid4().hex
        data = json.dumps({"events": [{"to": who.email, "kind": kind, "id": event_id}]}).encode()
        signature = hmac.new(WEBHOOK_SECRET.encode(), data, hashlib.sha256).hexdigest()
        for _ in range(2):
            answer = self.platform.stack.request(
                "POST", "/v1/webhooks/mailer", body=data, headers={"x-sig": signature}
            )
            assert answer.status == 200, answer.body
        if self.model.stored([f"email:{who.email}"]):
            self.model.link([f"email:{who.email}"])
            self._expect(f"email:{who.email}", f"mailer-{event_id}")

    @rule(person=st.integers(0, PEOPLE - 1), plan=st.sampled_from(["free", "pro"]))
    def import_from_the_crm(self, person: int, plan: str) -> None:
        """A CRM export dropped into the import bucket; S3 notifies twice."""
        who = self.model.person(person)
        before = {(i["pk"]["S"], i["sk"]["S"]) for i in self.platform.items("EVENTS_TABLE")}
        row = {"customer_id": who.user_id, "mail": who.email, "plan": plan}
        mapping = {"identities": {"user_id": "customer_id", "email": "mail"},
                   "traits": {"plan": "plan"}}  # fmt: skip
        self.platform.import_rows(uuid.uuid4().hex, [row], mapping)
        after = {(i["pk"]["S"], i["sk"]["S"]) for i in self.platform.items("EVENTS_TABLE")}
        identities = [f"user_id:{who.user_id}", f"email:{who.email}"]
        new = after - before
        assert len(new) == (1 if self.model.stored(identities) else 0), new
        for partition, message_id in new:
            self.model.link(identities)
            self._expect(partition, message_id)

    # -- definitions and time ------------------------------------------------------------

    @rule(segment=st.sampled_from(sorted(SEGMENTS)))
    def define_segment(self, segment: str) -> None:
        body = {"id": segment, "name": segment, **SEGMENTS[segment]}
        assert self.platform.admin("PUT", f"/v1/segments/{segment}", body).status == 200
        self.segments.add(segment)
        self.synced.add(segment)  # the tool receives it from now on (a resync adds who is in)
        assert self.platform.admin("PUT", "/v1/destinations/tool", self._tool()).status == 200

    @precondition(lambda self: self.segments)
    @rule(index=st.integers(0, 100))
    def delete_segment(self, index: int) -> None:
        segment = sorted(self.segments)[index % len(self.segments)]
        refused = self.platform.admin("DELETE", f"/v1/segments/{segment}")
        assert refused.status == 400, "deleted while a destination receives it"
        # the tool keeps the audience as it was; the destination no longer keeps it current
        self.synced.discard(segment)
        assert self.platform.admin("PUT", "/v1/destinations/tool", self._tool()).status == 200
        assert self.platform.admin("DELETE", f"/v1/segments/{segment}").status == 200
        self.segments.discard(segment)

    @rule(windows=st.sampled_from([[7], [30], [7, 30, 90]]))
    def change_a_computed_trait(self, windows: list[int]) -> None:
        body = {"id": "revenue", "type": "sum", "event": "Order Completed",
                "property": "revenue", "windows": windows}  # fmt: skip
        assert self.platform.admin("PUT", "/v1/computed-traits/revenue", body).status == 200

    @rule(days=st.integers(1, 40))
    def time_passes(self, days: int) -> None:
        clock.advance(timedelta(days=days, minutes=17))
        self.platform.run_scheduler()

    # -- rights of the person ------------------------------------------------------------

    @rule(person=st.integers(0, PEOPLE - 1))
    def erase(self, person: int) -> None:
        who = self.model.person(person)
        if who.name in self.model.erased:
            return
        key = f"user_id:{who.user_id}"
        self.platform.feed_lake()  # what the person did so far is in the lake too
        answer = self.platform.admin("DELETE", f"/v1/profiles/{key}")
        if answer.status == 404:
            assert key not in self.model.cluster  # never seen: nothing to erase
            return
        assert answer.status == 200, answer.body
        gone = self.model.of(key)
        self.model.suppressed |= gone
        self.model.erased.add(who.name)
        self.model.expected = {k: v for k, v in self.model.expected.items() if k[0] not in gone}
        clear_caches()  # collectors learn of an erasure within a minute
        self.platform.settle()
        self.uncounted = len(self.model.expected) - self._profile_totals()[0]
        assert self.uncounted >= 0, "after the erasure, profiles count more events than are held"
        # the lake: its writers, then its upkeep with the erasure the sweep sent (their order
        # in AWS); every erased person so far, so that what an erased person sent later and
        # what other people's events named of them is looked for too
        self.platform.feed_lake()
        everything = self.platform.everything()
        for identity in gone:
            value = split_identity(identity)[1].lower()
            where = everything.find(value)
            held = everything[max(0, where - 600) : where + 200]
            assert where < 0, f"{identity} is still held after erasure, in: ...{held}..."
        lake = self.platform.lake_files()
        for identity in self.model.suppressed:  # (`gone` among them)
            where = lake.find(split_identity(identity)[1].lower())
            held = lake[max(0, where - 600) : where + 200]
            assert where < 0, f"{identity} is still in a lake file after erasure: ...{held}..."

    @precondition(lambda self: self.model.mistaken)
    @rule(index=st.integers(0, 100))
    def unmerge(self, index: int) -> None:
        """Undo a mistaken merge: give the owner back what it brought in, as an operator
        would (everything of theirs in the profile)."""
        found = sorted(self.model.mistaken)[index % len(self.model.mistaken)]
        owner = self.model.owner[found]
        back = {i for i in self.model.of(found) if self.model.owner.get(i) == owner}
        if back & self.model.suppressed:
            self.model.mistaken -= back
            return
        answer = self.platform.admin(
            "POST", f"/v1/profiles/{found}/unmerge", {"identities": sorted(back)}
        )
        assert answer.status == 200, answer.body
        self.model.split(back)
        self.unmerged += 1
        self.platform.settle()
        recounted = self._profile_totals()[0] - (len(self.model.expected) - self.uncounted)
        assert 0 <= recounted <= self.uncounted, f"the unmerge counted {recounted} events again"
        self.uncounted -= recounted

    # -- the promises ----------------------------------------------------------------------

    def _profiles(self) -> list[dict[str, Any]]:
        from cdp.storage.profiles import decode_state

        return [
            {**decode_state(item["state"]["B"]), "profile_id": item["profile_id"]["S"]}
            for item in self.platform.items("PROFILES_TABLE")
            if "state" in item
        ]

    def _profile_totals(self) -> tuple[int, float]:
        profiles = self._profiles()
        events = sum(p["event_count"] for p in profiles)
        revenue = sum(float(p.get("computed", {}).get("revenue", {}).get("s", 0)) for p in profiles)
        return events, revenue

    @invariant()
    def the_promises_hold(self) -> None:
        """After every step, once what it started has run its course."""
        Promises.checks += 1
        self.platform.settle()
        self.each_message_is_stored_and_counted_once()
        self.everything_stored_expires()
        self.one_person_per_profile()
        self.a_destination_hears_a_person_only_with_its_purpose()
        self.explain_equals_membership()
        self.each_segments_days_add_up_to_its_members()
        self.the_tool_holds_each_person_where_consent_and_segments_say()

    def each_message_is_stored_and_counted_once(self) -> None:
        stored = [(i["pk"]["S"], i["sk"]["S"]) for i in self.platform.items("EVENTS_TABLE")]
        assert sorted(stored) == sorted(self.model.expected), "stored events differ"
        events, _ = self._profile_totals()
        counted = len(self.model.expected) - self.uncounted
        assert events == counted, f"profiles count {events} events, not {counted}"

    def everything_stored_expires(self) -> None:
        for env in ("PROFILES_TABLE", "EVENTS_TABLE", "QUARANTINE_TABLE"):
            for item in self.platform.items(env):
                assert "expires_at" in item, f"{env}: {item.get('profile_id') or item.get('pk')}"

    def one_person_per_profile(self) -> None:
        for profile in self._profiles():
            identities = set(profile["identities"])
            owners = {self.model.owner.get(identity, "nobody") for identity in identities}
            assert "nobody" not in owners, f"not an identity of anyone: {identities}"
            if not identities & self.model.mistaken:
                assert len(owners) == 1, f"one profile holds {sorted(owners)}"

    def a_destination_hears_a_person_only_with_its_purpose(self) -> None:
        for name, (purpose, _) in self.platform.destinations.items():
            for event in self.platform.delivered.get(name, []):
                detail = event["detail"]
                if event["detail-type"] == "profile.deleted":
                    continue
                withdrawn = purpose in detail.get("withdrawn_purposes", [])
                assert purpose in detail["consented_purposes"] or withdrawn, event
                if withdrawn and event["detail-type"] == "profile.updated":
                    assert set(detail["changed"]) == {"consent"}, "more than the withdrawal"
                else:
                    assert not withdrawn or event["detail-type"] == "segment.exited", event
        for user_id, purpose in self.withdrawn:
            name = next(n for n, (p, _) in self.platform.destinations.items() if p == purpose)
            notices = [
                e for e in self.platform.delivered.get(name, [])
                if purpose in e["detail"].get("withdrawn_purposes", [])
                and e["detail"]["identities"]["user_id"] == user_id
            ]  # fmt: skip
            assert notices, f"the {purpose} destination never heard that {user_id} withdrew"
        self.withdrawn.clear()

    def the_tool_holds_each_person_where_consent_and_segments_say(self) -> None:
        """The destination's tool, applying what it was sent, holds each person in the
        audiences of the segments they are in if they granted marketing, and in none
        otherwise (a profile merged away is left out: the person lives on in another)."""
        tool = receiver()
        assert tool.violations == []
        for profile in self._profiles():
            granted = profile.get("consent", {}).get("marketing", {}).get("state") == "granted"
            expected = {s.upper() for s in profile["segments"] if s in self.synced}
            kept_current = {s.upper() for s in self.synced}
            held = tool.audiences.get(profile["profile_id"], set()) & kept_current
            assert held == (expected if granted else set()), (profile["profile_id"], held)

    def each_segments_days_add_up_to_its_members(self) -> None:
        """Entries less exits, over every day kept, are the members: no change counted twice,
        none missed (deleted segments included: their members left)."""
        members: dict[str, int] = {}
        moved: dict[str, int] = {}
        for item in self.platform.items("MEMBERS_TABLE"):
            segment = item["segment_id"]["S"]
            if segment != "#days":
                members[segment] = members.get(segment, 0) + 1
                continue
            for name, value in item.items():
                side, _, counted = name.partition(":")
                if side in {"in", "out"}:
                    change = int(value["N"]) if side == "in" else -int(value["N"])
                    moved[counted] = moved.get(counted, 0) + change
        for segment in members.keys() | moved.keys():
            assert moved.get(segment, 0) == members.get(segment, 0), segment

    def explain_equals_membership(self) -> None:
        if not self.segments:
            return
        for profile in self._profiles()[:4]:
            for segment in sorted(self.segments):
                path = f"/v1/profiles/profile_id:{profile['profile_id']}/segments/{segment}/explain"
                answer = self.platform.admin("GET", path)
                assert answer.status == 200, answer.body
                explained = answer.json()
                assert explained["member"] == (segment in profile["segments"])
                if "pending" in explained:
                    assert "time alone" in explained["pending"]["reason"], explained


def _identities_of(message: dict[str, Any]) -> list[str]:
    found = []
    if message.get("userId"):
        found.append(f"user_id:{message['userId']}")
    if message.get("anonymousId"):
        found.append(f"anonymous_id:{message['anonymousId']}")
    email = (message.get("traits") or {}).get("email")
    if email:
        found.append(f"email:{email}")
    return found


def _placeholder(identity: str) -> bool:
    return split_identity(identity)[1] in PLACEHOLDERS


EXAMPLES = int(os.environ.get("CDP_INVARIANT_EXAMPLES", "12"))
STEPS = int(os.environ.get("CDP_INVARIANT_STEPS", "25"))


@pytest.fixture
def platform_environment(
    dynamodb: Any, monkeypatch: pytest.MonkeyPatch, table_names: dict[str, str]
) -> None:
    # table_names: the secrets, once (Powertools caches them for the whole process)
    # (the sweep at once, no function caching its check of erased people)
    for name in ("SUPPRESSION_CACHE_SECONDS", "ERASURE_SWEEP_DELAY_SECONDS"):
        monkeypatch.setenv(name, "0")
    # One process is every warm function here: destinations are read fresh, and a resync
    # need not wait for other publishers to learn of one.
    from functions.deliverer import handler as deliverer
    from functions.publisher import handler as publisher

    monkeypatch.setattr(publisher, "DESTINATIONS_MAX_AGE", 0.0)
    monkeypatch.setattr(deliverer, "RESYNC_SETTLE_SECONDS", 0)
    for name in {name for spec in FUNCTIONS for name in resource_env_vars(spec)}:
        monkeypatch.setenv(name, os.environ.get(name, "unset"))  # restored afterwards
    _session["dynamodb"] = dynamodb


@pytest.mark.invariants
@pytest.mark.usefixtures("platform_environment")
def test_the_promises_hold_on_every_path() -> None:
    Promises.TestCase.settings = settings(
        max_examples=EXAMPLES,
        stateful_step_count=STEPS,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        print_blob=True,
    )
    Promises.checks = 0
    Promises.TestCase().runTest()
    # every example checked the promises at least once (none was skipped or filtered away)
    assert Promises.checks >= EXAMPLES


def _placeholder_sign_in(person: int, device: int, placeholder: str) -> tuple[str, dict[str, Any]]:
    return "sign_in_with_a_placeholder_user_id", {
        "person": person, "device": device, "placeholder": placeholder,
    }  # fmt: skip


# Sequences the search above once found breaking a promise, kept as they were found (ids are
# random, so a short search seldom finds them again).
FOUND: dict[str, list[tuple[str, dict[str, Any]]]] = {
    "erasing a profile that a mistaken merge gave another person's address": [
        ("define_segment", {"segment": "big"}),
        _placeholder_sign_in(person=0, device=0, placeholder="undefined"),
        _placeholder_sign_in(person=0, device=0, placeholder="undefined"),
        ("email_engagement", {"kind": "opened", "person": 2}),
        ("consent", {"granted": True, "person": 2, "purpose": "analytics"}),
        ("sign_in_on_someone_elses_device", {"other": 1, "person": 2}),
        ("sign_in_on_someone_elses_device", {"other": 2, "person": 1}),
        ("sign_in_on_someone_elses_device", {"other": 2, "person": 2}),
        ("browse", {"batch": False, "device": 1, "order": False, "person": 1, "revenue": 149,
                    "times": "bare"}),
        ("sign_in", {"device": 0, "person": 2, "plan": "pro", "times": "segment"}),
        ("answer_a_form", {"children": 1, "device": 1, "person": 1, "with_id": True,
                           "with_time": False}),
        ("sign_in", {"device": 0, "person": 0, "plan": "pro", "times": "timestamp only"}),
        ("erase", {"person": 2}),
    ],
    "erasing a person whose sign-in merged a device that an unmerge gave back": [
        ("import_from_the_crm", {"person": 2, "plan": "pro"}),
        ("browse", {"batch": False, "device": 0, "order": False, "person": 0, "revenue": 1,
                    "times": "segment"}),
        ("sign_in_on_someone_elses_device", {"other": 1, "person": 2}),
        ("unmerge", {"index": 0}),
        ("erase", {"person": 2}),
    ],
    "an unmerge after an erasure counts a redacted event again": [
        ("import_from_the_crm", {"person": 0, "plan": "free"}),
        ("import_from_the_crm", {"person": 1, "plan": "free"}),
        ("browse", {"batch": False, "device": 0, "order": True, "person": 0, "revenue": 136,
                    "times": "segment"}),
        ("email_engagement", {"kind": "opened", "person": 0}),
        ("sign_in_on_someone_elses_device", {"other": 2, "person": 2}),
        _placeholder_sign_in(person=0, device=1, placeholder="[object Object]"),
        _placeholder_sign_in(person=1, device=0, placeholder="[object Object]"),
        ("sign_in", {"device": 1, "person": 0, "plan": "free", "times": "segment"}),
        _placeholder_sign_in(person=0, device=1, placeholder="[object Object]"),
        ("erase", {"person": 1}),
        ("unmerge", {"index": 73}),
    ],
    # found when a segment's exits went uncounted: the member an erasure and a deleted
    # segment take away must leave the segment's days too
    "a segment's days count each entry and each exit": [
        ("sign_in", {"device": 0, "person": 0, "plan": "pro", "times": "segment"}),
        ("answer_a_form", {"children": 1, "device": 0, "person": 0, "with_id": True,
                           "with_time": False}),
        ("define_segment", {"segment": "parents"}),
        ("delete_segment", {"index": 0}),
        ("define_segment", {"segment": "parents"}),
        ("erase", {"person": 0}),
    ],
}  # fmt: skip


@pytest.mark.invariants
@pytest.mark.usefixtures("platform_environment")
@pytest.mark.parametrize("steps", FOUND.values(), ids=list(FOUND))
def test_the_sequences_that_once_broke_a_promise(steps: list[tuple[str, dict[str, Any]]]) -> None:
    machine = Promises()
    try:
        machine.the_promises_hold()
        for rule_name, arguments in steps:
            getattr(machine, rule_name)(**arguments)
            machine.the_promises_hold()
        # the sequence still reaches the case it was kept for: its erasures and unmerges ran
        erased = {f"person {a['person']}" for name, a in steps if name == "erase"}
        assert erased <= machine.model.erased
        assert machine.unmerged == sum(name == "unmerge" for name, _ in steps)
    finally:
        machine.teardown()
