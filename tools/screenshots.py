"""`make screenshots`: pictures of the console's main views for the README, taken in headless
Chromium against a fresh `cdp dev` holding a small, fixed data set.

    python -m tools.screenshots [--output DIR] [--only NAME ...]

The data never changes from run to run: the same people with the same identifiers, traits and
events at the same times (events carry their own `timestamp` and no `sentAt`, so the collector
keeps it), and `cdp dev`'s clock is moved to `NOW` before anything is sent, so that what the
platform stamps with its own time (the profile's "as of", segment entries, the audit log)
falls on the same day. Those times still differ by the seconds a run takes, and profile ids
are random, so a picture is not compared pixel by pixel: each PNG carries a fingerprint of what
it shows (the console's build, the page's text with such values left out: `VOLATILE`), and a
picture whose fingerprint is unchanged is not written again. A run that changed nothing in the
console changes no file. Pictures are 1280 pixels wide, PNG as Chromium encodes them.

`VIEWS` lists what is taken: add a `View` to take another. A view whose `ready` never appears
(its page is not built yet) is skipped, and the run says so.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import struct
import sys
import time
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import requests

from tests.e2e.conftest import (
    CHROMIUM_FLAGS,
    ROOT,
    SECRET_KEY,
    WRITE_KEY,
    DevStack,
    chromium_path,
    start_dev,
    stop_dev,
)
from tests.e2e.test_console_e2e import sign_in, sign_in_page

OUTPUT = ROOT / "docs" / "screenshots"
NOW = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)  # `cdp dev`'s clock while the pictures are taken
WIDTH, HEIGHT = 1280, 800  # the window, and a picture's size unless its view says

SEGMENTS: list[dict[str, Any]] = [
    {
        "id": "recent-buyers",
        "name": "Bought in the last 30 days",
        "condition": {"computed": "orders_30d", "gte": 1},
    },
    {
        "id": "pro-marketing",
        "name": "Pro plan, open to marketing",
        "purpose": "marketing",
        "condition": {"trait": "plan", "eq": "pro"},
    },
]

SOURCES: list[dict[str, Any]] = [
    {"name": "shop-website", "kind": "website", "description": "The shop's pages (cdp.js)"},
    {"name": "crm", "kind": "crm", "description": "Nightly export of the CRM", "declares": False},
]


@dataclass(frozen=True)
class Person:
    user_id: str
    anonymous_ids: tuple[str, ...]
    traits: dict[str, Any]
    pages: tuple[str, ...] = ()
    orders: tuple[float, ...] = ()
    form: dict[str, Any] = field(default_factory=dict)  # answers to the demo form "household"
    consent: dict[str, bool] = field(default_factory=dict)


PEOPLE = (
    Person(
        user_id="u-1815",
        anonymous_ids=("anon-ada-laptop", "anon-ada-phone"),
        traits={"email": "ada@example.com", "first_name": "Ada", "plan": "pro"},
        pages=("Home", "Garden tools", "Secateurs", "Watering cans", "Checkout") * 5,
        orders=(42.5, 18.0),
        form={"moving_soon": False, "home": "own", "children": 2},
        consent={"personalization": True, "marketing": True},
    ),
    Person(
        user_id="u-1906",
        anonymous_ids=("anon-grace",),
        traits={"email": "grace@example.org", "first_name": "Grace", "plan": "free"},
        pages=("Home", "Kitchen", "Kettles"),
        orders=(64.9,),
        form={"home": "rent"},
        consent={"personalization": True, "marketing": False},
    ),
    Person(
        user_id="u-1912",
        anonymous_ids=("anon-alan",),
        traits={"email": "alan@example.net", "first_name": "Alan", "plan": "pro"},
        pages=("Home", "Bicycles"),
    ),
)
FEATURED = PEOPLE[0]


# What differs from run to run whatever the console does: times (those the platform stamps
# with its clock move by the seconds a run takes) and profile ids (random). They are left out
# of a picture's fingerprint.
VOLATILE = ("time", "code", "a[href*='profile_id']")


@dataclass(frozen=True)
class View:
    """One picture: `path` opened signed in as `role`, taken once `ready` is on the page (a
    selector or text). `prepare` runs on the page before the picture (to open a search, say).
    `height` takes the page's top that many pixels tall (it may be taller than the window),
    else the window."""

    name: str
    role: str
    path: str
    ready: str
    height: int | None = None
    prepare: Callable[[Any], None] | None = None


def _search(page: Any) -> None:
    page.get_by_label("Find a person").fill(FEATURED.traits["email"])
    page.get_by_role("button", name="Search").click()
    page.wait_for_selector("text=1 profile match")


PROFILE = f"/console/profiles/user_id:{FEATURED.user_id}"
VIEWS = (
    View("overview", "admin", "/console", "text=Figures as of", height=1500),
    View("search", "editor", "/console/profiles", "text=Find a person", prepare=_search),
    View("profile", "editor", PROFILE, ".timeline .event", height=1000),
    View("profile-masked", "viewer", PROFILE, ".timeline .event", height=1000),
    View("audit", "admin", "/console/audit", "tbody tr"),
    View("segments", "editor", "/console/segments", f"text={SEGMENTS[0]['name']}"),
    View("forms", "editor", "/console/forms", "text=About your household"),
    View("sources", "admin", "/console/sources", ".source table", height=1250),
)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m tools.screenshots")
    parser.add_argument("--output", type=Path, default=OUTPUT)
    parser.add_argument("--only", nargs="*", help="names of the views to take")
    args = parser.parse_args(argv)
    views = [view for view in VIEWS if not args.only or view.name in args.only]
    taken = take(views, args.output)
    for name, outcome in taken.items():
        print(f"screenshots: {name}: {outcome}", file=sys.stderr)


def take(views: list[View] | tuple[View, ...], output: Path) -> dict[str, str]:
    """Each view's picture into `output` (`<name>.png`); answers what became of each."""
    from playwright.sync_api import sync_playwright

    output.mkdir(parents=True, exist_ok=True)
    stack = start_dev("--scheduler-seconds", "3600")
    outcomes: dict[str, str] = {}
    try:
        seed(stack)
        with sync_playwright() as playwright:
            chromium = playwright.chromium.launch(
                executable_path=chromium_path(), args=CHROMIUM_FLAGS
            )
            try:
                pages: dict[str, Any] = {}
                for view in views:
                    if view.role not in pages:
                        pages[view.role] = _signed_in(chromium, stack, view.role)
                    outcomes[view.name] = _take(pages[view.role], stack, view, output)
            finally:
                chromium.close()
    finally:
        code, log = stop_dev(stack)
    if code != 0:
        raise RuntimeError(f"cdp dev did not stop cleanly:\n{log[-3000:]}")
    return outcomes


def seed(stack: DevStack) -> None:
    """`SOURCES`, `SEGMENTS` and `PEOPLE`, sent as the admin API's users and a website send
    them, and worked off; then an editor's audited look at the featured person."""
    session = requests.Session()
    moved = (NOW - datetime.fromisoformat(_clock(session, stack, 0))).total_seconds()
    _clock(session, stack, moved / 86400)
    admin = {"Authorization": f"Bearer {SECRET_KEY}"}
    for source in SOURCES:
        answer = session.post(f"{stack.url}/v1/sources", json=source, headers=admin, timeout=30)
        answer.raise_for_status()
    for segment in SEGMENTS:
        answer = session.put(
            f"{stack.url}/v1/segments/{segment['id']}", json=segment, headers=admin, timeout=30
        )
        answer.raise_for_status()
    for number, person in enumerate(PEOPLE):
        batch = list(_messages(person, start=NOW - timedelta(days=20 - number * 3)))
        answer = session.post(
            f"{stack.url}/v1/batch", json={"batch": batch}, auth=(WRITE_KEY, ""), timeout=30
        )
        answer.raise_for_status()
        if person.form or person.consent:
            answered = NOW - timedelta(days=2 - number)
            submission: dict[str, Any] = {
                "anonymousId": person.anonymous_ids[0],
                "answers": person.form,
                "consent": person.consent,
                "submissionId": f"household-{person.user_id}",
                "timestamp": answered.isoformat(),
            }
            answer = session.post(
                f"{stack.url}/v1/forms/household/submissions",
                json=submission,
                auth=(WRITE_KEY, ""),
                timeout=30,
            )
            answer.raise_for_status()
    _worked_off(session, stack)
    # a colleague looked the featured person up for a support ticket (the audit log says so)
    editor = {"Authorization": f"Bearer {sign_in(stack, 'editor')}"}
    for part in ("", "/events"):
        answer = session.get(
            f"{stack.url}/console/api{PROFILE.removeprefix('/console')}{part}",
            params={"reason": "support-ticket-1042"},
            headers=editor,
            timeout=30,
        )
        answer.raise_for_status()


def _messages(person: Person, *, start: datetime) -> Iterator[dict[str, Any]]:
    """A person's visits, oldest first, a minute apart: pages on the first device, the sign-up
    there, pages and orders on the other devices after signing in on them too."""
    moments = (start + timedelta(minutes=n) for n in range(1000))
    first, *others = person.anonymous_ids
    split = len(person.pages) // 2
    common = {"context": {"userAgent": "Mozilla/5.0 (X11; Linux x86_64) Chrome/126.0"}}

    def message(kind: str, number: int, **fields: Any) -> dict[str, Any]:
        return {
            "type": kind,
            "messageId": f"{person.user_id}-{number:03d}",
            "timestamp": next(moments).isoformat(),
            **common,
            **fields,
        }

    number = 0
    for name in person.pages[:split]:
        number += 1
        yield message("page", number, anonymousId=first, name=name)
    number += 1
    yield message(
        "identify", number, userId=person.user_id, anonymousId=first, traits=person.traits
    )
    for device in others:
        number += 1
        yield message("identify", number, userId=person.user_id, anonymousId=device)
    for name in person.pages[split:]:
        number += 1
        yield message("page", number, userId=person.user_id, anonymousId=first, name=name)
    for revenue in person.orders:
        number += 1
        order = {"order_id": f"o-{person.user_id}-{number}", "revenue": revenue}
        yield message(
            "track",
            number,
            userId=person.user_id,
            anonymousId=first,
            event="Order Completed",
            properties=order,
        )


def _clock(session: requests.Session, stack: DevStack, days: float) -> str:
    answer = session.post(f"{stack.url}/_dev/clock", json={"advance_days": days}, timeout=30)
    answer.raise_for_status()
    now: str = answer.json()["now"]
    return now.replace("Z", "+00:00")


def _worked_off(session: requests.Session, stack: DevStack) -> None:
    """Until every person's profile holds all their events and its segments."""
    deadline = time.monotonic() + 60
    admin = {"Authorization": f"Bearer {SECRET_KEY}"}
    waiting = list(PEOPLE)
    while waiting:
        if time.monotonic() > deadline:
            raise RuntimeError(f"not worked off within 60 s: {[p.user_id for p in waiting]}")
        person = waiting[0]
        answer = session.get(
            f"{stack.url}/v1/profiles/user_id:{person.user_id}", headers=admin, timeout=30
        )
        expected = sum(1 for _ in _messages(person, start=NOW)) + (
            1 if person.form or person.consent else 0
        )
        if answer.status_code == 200 and answer.json()["event_count"] >= expected:
            waiting.pop(0)
        else:
            time.sleep(0.3)
    # the segments' entries follow the profile writes
    from bench.memory import drain

    drain(session, stack.url, timeout=60)


def _signed_in(chromium: Any, stack: DevStack, role: str) -> Any:
    context = chromium.new_context(
        viewport={"width": WIDTH, "height": HEIGHT}, device_scale_factor=1, locale="en-GB"
    )
    page = context.new_page()
    sign_in_page(page, stack, role, "/console/profiles")
    return page


def _take(page: Any, stack: DevStack, view: View, output: Path) -> str:
    from playwright.sync_api import TimeoutError as NotThere

    page.goto(f"{stack.url}{view.path}")
    try:
        page.wait_for_selector(view.ready, timeout=10_000)
    except NotThere:
        return f"skipped: {view.ready!r} never appeared (is the view built?)"
    if view.prepare is not None:
        view.prepare(page)
    page.wait_for_load_state("networkidle")
    page.mouse.move(0, 0)
    clip = {"x": 0, "y": 0, "width": WIDTH, "height": view.height or HEIGHT}
    picture: bytes = page.screenshot(full_page=True, clip=clip, animations="disabled", caret="hide")
    path = output / f"{view.name}.png"
    shown = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path
    fingerprint = _fingerprint(page, view)
    if path.exists() and fingerprint_of(path.read_bytes()) == fingerprint:
        return f"unchanged ({shown})"
    path.write_bytes(with_fingerprint(picture, fingerprint))
    return f"{len(picture) / 1024:.0f} KB ({shown})"


def _fingerprint(page: Any, view: View) -> str:
    """What the picture shows, as text: the console's build (its files' content-hash names),
    the picture's size and the page's text with what is `VOLATILE` left out."""
    text = page.evaluate(
        """(volatile) => {
            const copy = document.body.cloneNode(true);
            for (const element of copy.querySelectorAll(volatile.join(",")))
                element.textContent = "\u2022";
            document.body.after(copy);  // innerText reads only what is laid out
            const text = copy.innerText;
            copy.remove();
            return text;
        }""",
        list(VOLATILE),
    )
    build = (ROOT / "layers" / "cdp" / "static" / "console" / "manifest.json").read_text()
    shown = json.dumps([build, WIDTH, view.height or HEIGHT, text])
    return hashlib.sha256(shown.encode()).hexdigest()


# The fingerprint travels in the PNG itself, as a text chunk (PNG's tEXt: a keyword, a zero
# byte, the text), just before the image's end.
KEYWORD = b"cdp-screenshot"


def with_fingerprint(png: bytes, fingerprint: str) -> bytes:
    data = KEYWORD + b"\0" + fingerprint.encode()
    chunk = (
        struct.pack(">I", len(data))
        + b"tEXt"
        + data
        + struct.pack(">I", zlib.crc32(b"tEXt" + data))
    )
    end = png.rindex(b"IEND") - 4  # the end chunk begins with its length
    return png[:end] + chunk + png[end:]


def fingerprint_of(png: bytes) -> str | None:
    position = 8  # past the signature
    while position + 8 <= len(png):
        (length,) = struct.unpack(">I", png[position : position + 4])
        kind = png[position + 4 : position + 8]
        data = png[position + 8 : position + 8 + length]
        if kind == b"tEXt" and data.startswith(KEYWORD + b"\0"):
            return data[len(KEYWORD) + 1 :].decode()
        position += 12 + length
    return None


if __name__ == "__main__":
    main()
