"""A seeded, reproducible workload: visitors with realistic sessions, as requests to the API.

Pure: the same seed, sizes and start time give the same requests, byte for byte. Each visitor
browses in sessions on different days (page views, product views, carts), some sign up (an
identify that links their anonymous id to a user id), some answer a progressive form, some buy
(orders with revenue), some come back on a second device and sign in there (their anonymous
profile merges into the known one), and an e-mail tool (a server source) reports opens and
clicks of campaigns by e-mail address.

Requests carry the messages as the clients send them: the website tracker posts up to
`batch_size` messages of one device and session to `/v1/batch`; the e-mail tool posts up to
`batch_size` messages of many people; forms go to the forms API.

Arrival order models a busy site: the requests of every session of a day interleave by the time
since their session started, so a stream batch holds the requests of many people at once.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from cdp.runtime.clock import iso

CATEGORIES = ("shoes", "bags", "jackets", "shirts", "hats", "socks", "belts", "watches")
PAGES = ("/", "/new", "/sale", "/about", "/help/shipping", "/help/returns", "/blog/care")
REFERRERS = ("", "https://www.google.com/", "https://news.example/", "https://social.example/")
USER_AGENTS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/18.1 Safari/605.1.15",
)
SITE = "https://shop.example"
FORM_ID = "household"
CAMPAIGNS_EVERY_DAYS = 3


@dataclass(frozen=True)
class Request:
    """One HTTP request to the API: `function` answers it at `path` with `body`."""

    function: str  # collector | forms_api
    path: str
    body: dict[str, Any]
    visitors: frozenset[int]  # whom it concerns
    messages: int
    order: tuple[int, int, int]  # (day, seconds into the session or campaign, sequence)


@dataclass(frozen=True)
class Workload:
    seed: int
    batch_size: int
    visitors: int
    requests: tuple[Request, ...]
    counts: dict[str, int] = field(default_factory=dict)  # messages by kind

    @property
    def messages(self) -> int:
        return sum(request.messages for request in self.requests)


@dataclass
class _Message:
    day: int
    offset: int  # seconds since the session (or campaign) started
    at: datetime
    body: dict[str, Any]
    kind: str


@dataclass
class _Visitor:
    number: int
    user_id: str
    email: str
    anonymous_ids: list[str]
    consent: dict[str, bool] | None
    signed_up_on: int | None = None  # day


def generate(
    *,
    seed: int,
    visitors: int,
    batch_size: int,
    start: datetime,
    days: int = 14,
    website_key: str,
    mailer_key: str,
) -> Workload:
    """The requests of `visitors` people over `days` days from `start` (UTC midnight),
    in arrival order."""
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    rng = random.Random(seed)  # noqa: S311 (a reproducible workload, not a secret)
    requests: list[Request] = []
    counts: dict[str, int] = {}
    people: list[_Visitor] = []
    sequence = iter(range(10**9))
    for number in range(visitors):
        visitor = _Visitor(
            number=number,
            user_id=f"user-{seed}-{number}",
            email=f"person{number}.{seed}@example.com",
            anonymous_ids=[_uuid(rng)],
            consent=_consent(rng),
        )
        people.append(visitor)
        for messages in _browsing(rng, visitor, start, days):
            for message in messages:
                counts[message.kind] = counts.get(message.kind, 0) + 1
            requests += _device_requests(
                messages,
                visitor=visitor,
                batch_size=batch_size,
                website_key=website_key,
                sequence=sequence,
            )
    requests += _campaigns(
        rng,
        people=people,
        start=start,
        days=days,
        batch_size=batch_size,
        mailer_key=mailer_key,
        counts=counts,
        sequence=sequence,
    )
    requests.sort(key=lambda request: request.order)
    return Workload(
        seed=seed,
        batch_size=batch_size,
        visitors=visitors,
        requests=tuple(requests),
        counts=dict(sorted(counts.items())),
    )


# -- browsing ---------------------------------------------------------------------------


def _browsing(
    rng: random.Random, visitor: _Visitor, start: datetime, days: int
) -> Iterator[list[_Message]]:
    """The messages of one session, for every session of the visitor, in time order."""
    session_days = sorted(rng.sample(range(days), k=min(days, _session_count(rng))))
    signs_up = rng.random() < 0.45
    signup_session = rng.randrange(len(session_days)) if signs_up else None
    second_device = signs_up and rng.random() < 0.3
    agent = rng.choice(USER_AGENTS)
    for index, day in enumerate(session_days):
        at = start + timedelta(days=day, seconds=rng.randrange(8 * 3600, 22 * 3600))
        browser = _Browser(
            rng, visitor=visitor, anonymous_id=visitor.anonymous_ids[0], agent=agent, day=day, at=at
        )
        browser.browse()
        if index == signup_session:
            browser.sign_up()
        if visitor.signed_up_on is not None:
            browser.identified = True
            if rng.random() < 0.35:
                browser.buy()
            if rng.random() < 0.25:
                browser.answer_form()
        yield browser.messages
    if second_device and visitor.signed_up_on is not None:
        # A phone: browsed anonymously one day (its own anonymous profile), signed in on a
        # later day (that profile then merges into the known one).
        free = [d for d in range(visitor.signed_up_on + 1, days) if d not in session_days]
        if len(free) >= 2:
            visitor.anonymous_ids.append(_uuid(rng))
            for number, day in enumerate(sorted(rng.sample(free, k=2))):
                at = start + timedelta(days=day, seconds=rng.randrange(8 * 3600, 22 * 3600))
                phone = _Browser(
                    rng,
                    visitor=visitor,
                    anonymous_id=visitor.anonymous_ids[1],
                    agent=USER_AGENTS[1],
                    day=day,
                    at=at,
                )
                phone.browse()
                if number == 1:
                    phone.sign_in()
                    if rng.random() < 0.5:
                        phone.buy()
                yield phone.messages


def _session_count(rng: random.Random) -> int:
    count = 1
    while count < 8 and rng.random() < 0.55:
        count += 1
    return count


class _Browser:
    """One session of one device: what the website tracker would send."""

    def __init__(
        self,
        rng: random.Random,
        *,
        visitor: _Visitor,
        anonymous_id: str,
        agent: str,
        day: int,
        at: datetime,
    ) -> None:
        self.rng = rng
        self.visitor = visitor
        self.anonymous_id = anonymous_id
        self.agent = agent
        self.day = day
        self.started = at
        self.at = at
        self.identified = False
        self.messages: list[_Message] = []
        self.page = rng.choice(PAGES)
        self.referrer = rng.choice(REFERRERS)
        self.campaign = (
            {"source": "newsletter", "medium": "email", "name": f"week-{day // 7}"}
            if rng.random() < 0.2
            else None
        )

    def browse(self) -> None:
        for _ in range(self.rng.randint(2, 8)):
            self.view_page(self.rng.choice(PAGES))
            if self.rng.random() < 0.5:
                category = self.rng.choice(CATEGORIES)
                product = f"{category}-{self.rng.randrange(200)}"
                self.view_page(f"/p/{product}")
                self.track("Product Viewed", _product(self.rng, product, category))
                if self.rng.random() < 0.2:
                    self.track("Product Added", _product(self.rng, product, category))

    def sign_up(self) -> None:
        self.view_page("/account/new")
        self.identified = True
        self.visitor.signed_up_on = self.day
        traits = {
            "email": self.visitor.email,
            "first_name": self.rng.choice(("Ada", "Bram", "Chloé", "Daan", "Eva", "Finn")),
            "plan": self.rng.choice(("free", "free", "pro")),
            "newsletter": self.rng.random() < 0.5,
            "interests": self.rng.sample(CATEGORIES, k=2),
        }
        self.send("identify", {"traits": traits}, kind="identify")
        self.track("Signed Up", {"method": "email"})

    def sign_in(self) -> None:
        self.view_page("/account/login")
        self.identified = True
        self.send("identify", {"traits": {}}, kind="identify")

    def buy(self) -> None:
        items = [
            _product(self.rng, f"{c}-{self.rng.randrange(200)}", c)
            for c in self.rng.sample(CATEGORIES, k=self.rng.randint(1, 3))
        ]
        revenue = round(sum(item["price"] * item["quantity"] for item in items), 2)
        self.view_page("/checkout")
        self.track("Checkout Started", {"value": revenue, "currency": "EUR"})
        order = {
            "order_id": f"o-{self.rng.getrandbits(40):x}",
            "revenue": revenue,
            "currency": "EUR",
            "category": items[0]["category"],
            "products": items,
        }
        self.track("Order Completed", order, kind="order")

    def answer_form(self) -> None:
        self.view_page("/account/about-you")
        self.wait()
        body = {
            "anonymousId": self.anonymous_id,
            "answers": {
                "moving_soon": self.rng.random() < 0.2,
                "children": self.rng.randint(0, 3),
            },
            "consent": {"marketing": self.rng.random() < 0.6},
            "submissionId": _uuid(self.rng),
            "timestamp": iso(self.at),
        }
        self.messages.append(_Message(self.day, self._offset(), self.at, body, "form"))

    def view_page(self, path: str) -> None:
        self.page = path
        title = path.strip("/").replace("/", " · ").title() or "Home"
        self.send(
            "page",
            {
                "name": title,
                "properties": {
                    "path": path,
                    "url": SITE + path,
                    "title": title,
                    "referrer": self.referrer,
                },
            },
            kind="page",
        )
        self.referrer = SITE + path

    def track(self, event: str, properties: dict[str, Any], kind: str = "track") -> None:
        self.send("track", {"event": event, "properties": properties}, kind=kind)

    def send(self, message_type: str, fields: dict[str, Any], *, kind: str) -> None:
        self.wait()
        context: dict[str, Any] = {
            "library": {"name": "cdp.js", "version": "0.1.0"},
            "page": {
                "url": SITE + self.page,
                "path": self.page,
                "title": self.page.strip("/").title() or "Home",
                "referrer": self.referrer,
                "search": "",
            },
            "userAgent": self.agent,
            "locale": "nl-NL",
            "timezone": "Europe/Amsterdam",
            "screen": {"width": 1440, "height": 900},
        }
        if self.campaign:
            context["campaign"] = self.campaign
        if self.visitor.consent is not None:
            context["consent"] = {"categoryPreferences": self.visitor.consent}
        body = {
            "type": message_type,
            "messageId": _uuid(self.rng),
            "timestamp": iso(self.at),
            "anonymousId": self.anonymous_id,
            **({"userId": self.visitor.user_id} if self.identified else {}),
            "context": context,
            **fields,
        }
        self.messages.append(_Message(self.day, self._offset(), self.at, body, kind))

    def wait(self) -> None:
        self.at += timedelta(seconds=self.rng.randint(4, 90), milliseconds=self.rng.randrange(1000))

    def _offset(self) -> int:
        return int((self.at - self.started).total_seconds())


def _device_requests(
    messages: list[_Message],
    *,
    visitor: _Visitor,
    batch_size: int,
    website_key: str,
    sequence: Iterator[int],
) -> list[Request]:
    """The session's messages as the tracker posts them: up to `batch_size` at a time; a form
    submission goes to the forms API on its own."""
    requests: list[Request] = []
    pending: list[_Message] = []

    def flush() -> None:
        if not pending:
            return
        last = pending[-1]
        body = {
            "writeKey": website_key,
            "batch": [message.body for message in pending],
            "sentAt": iso(last.at + timedelta(milliseconds=400)),
        }
        requests.append(
            Request(
                "collector",
                "/v1/batch",
                body,
                frozenset({visitor.number}),
                len(pending),
                (last.day, last.offset, next(sequence)),
            )
        )
        pending.clear()

    for message in messages:
        if message.kind == "form":
            flush()
            requests.append(
                Request(
                    "forms_api",
                    f"/v1/forms/{FORM_ID}/submissions",
                    {"writeKey": website_key, **message.body},
                    frozenset({visitor.number}),
                    1,
                    (message.day, message.offset, next(sequence)),
                )
            )
            continue
        pending.append(message)
        if len(pending) == batch_size:
            flush()
    flush()
    return requests


# -- e-mail -----------------------------------------------------------------------------


def _campaigns(
    rng: random.Random,
    *,
    people: list[_Visitor],
    start: datetime,
    days: int,
    batch_size: int,
    mailer_key: str,
    counts: dict[str, int],
    sequence: Iterator[int],
) -> list[Request]:
    """Campaigns to everyone signed up by then; the e-mail tool reports opens and clicks by
    e-mail address, in time order, `batch_size` at a time."""
    requests: list[Request] = []
    for day in range(1, days, CAMPAIGNS_EVERY_DAYS):
        sent = start + timedelta(days=day, hours=9)
        campaign = f"campaign-{day}"
        engagement: list[tuple[int, int, dict[str, Any]]] = []
        for visitor in people:
            if visitor.signed_up_on is None or visitor.signed_up_on >= day:
                continue
            if rng.random() >= 0.45:
                continue
            opened = rng.randrange(60, 8 * 3600)
            engagement.append(
                (
                    opened,
                    visitor.number,
                    _email(
                        rng, visitor, "Email Opened", campaign=campaign, sent=sent, after=opened
                    ),
                )
            )
            if rng.random() < 0.35:
                clicked = opened + rng.randrange(5, 300)
                engagement.append(
                    (
                        clicked,
                        visitor.number,
                        _email(
                            rng,
                            visitor,
                            "Email Link Clicked",
                            campaign=campaign,
                            sent=sent,
                            after=clicked,
                        ),
                    )
                )
        engagement.sort(key=lambda entry: entry[:2])
        for begin in range(0, len(engagement), batch_size):
            chunk = engagement[begin : begin + batch_size]
            counts["email"] = counts.get("email", 0) + len(chunk)
            requests.append(
                Request(
                    "collector",
                    "/v1/batch",
                    {
                        "writeKey": mailer_key,
                        "batch": [message for _, _, message in chunk],
                        "sentAt": iso(sent + timedelta(seconds=chunk[-1][0] + 2)),
                    },
                    frozenset(number for _, number, _ in chunk),
                    len(chunk),
                    (day, chunk[-1][0], next(sequence)),
                )
            )
    return requests


def _email(
    rng: random.Random, visitor: _Visitor, event: str, *, campaign: str, sent: datetime, after: int
) -> dict[str, Any]:
    return {
        "type": "track",
        "event": event,
        "messageId": f"mailer-{_uuid(rng)}",
        "timestamp": iso(sent + timedelta(seconds=after)),
        "context": {"traits": {"email": visitor.email}, "library": {"name": "mailer"}},
        "properties": {"campaign": campaign, "url": f"{SITE}/new?utm_campaign={campaign}"},
    }


# -- small things -----------------------------------------------------------------------


def _uuid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def _consent(rng: random.Random) -> dict[str, bool] | None:
    if rng.random() < 0.3:
        return None  # never answered the banner
    return {
        "analytics": True,
        "personalization": rng.random() < 0.7,
        "marketing": rng.random() < 0.5,
    }


def _product(rng: random.Random, product: str, category: str) -> dict[str, Any]:
    return {
        "product_id": product,
        "category": category,
        "price": round(rng.uniform(9, 180), 2),
        "quantity": rng.choice((1, 1, 1, 2)),
    }
