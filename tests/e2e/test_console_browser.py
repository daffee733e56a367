"""The console in a real browser: headless Chromium (Debian's package) driven by Playwright,
against `cdp dev`. A marketer signs in through the sign-in form, finds a person by e-mail and
reads their profile; a viewer sees the same person with nothing that identifies them; an admin
reads the audit log. axe-core checks every view, and the page breaks no rule of its CSP."""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import pytest
import requests
from segment.analytics.client import Client

from tests.e2e.conftest import ROOT, SECRET_KEY, WRITE_KEY, DevStack
from tests.e2e.test_console_e2e import sign_in_page

pytestmark = pytest.mark.e2e

ANY_TIME = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC")
EARLIER_VIEWS = 25  # the page shows 25 events at a time
MARKUP = '<img src="x" onerror="window.injected = true">'  # profile data is anyone's to send
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
SEGMENT = {
    "id": "console-buyers",
    "name": "Ordered in the last 30 days",
    "condition": {"computed": "orders_30d", "gte": 1},
}


@dataclass(frozen=True)
class Person:
    user_id: str
    email: str
    profile_id: str


def api(stack: DevStack, method: str, path: str, **kwargs: Any) -> requests.Response:
    headers = {"Authorization": f"Bearer {SECRET_KEY}"}
    return requests.request(method, f"{stack.url}{path}", headers=headers, timeout=15, **kwargs)


def eventually(check: Any, timeout: float = 20.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if result := check():
            return result
        time.sleep(0.2)
    raise AssertionError("not within the time allowed")


@pytest.fixture(scope="module")
def person(dev_stack: DevStack) -> Person:
    """A buyer who told us a preference that has since expired, in a segment."""
    assert api(dev_stack, "PUT", f"/v1/segments/{SEGMENT['id']}", json=SEGMENT).status_code == 200
    user = f"ada-{uuid.uuid4().hex[:8]}"
    email = f"{user}@example.com"
    client = Client(write_key=WRITE_KEY, host=dev_stack.url, sync_mode=True)
    client.identify(user, {"email": email, "plan": "pro", "nickname": MARKUP})
    for number in range(EARLIER_VIEWS):  # more than a page of the timeline
        client.page(user, name=f"Page {number}")
    # the shop's own preference pages may say what a person declared
    created = api(
        dev_stack,
        "POST",
        "/v1/sources",
        json={"name": f"prefs-{uuid.uuid4().hex[:6]}", "kind": "server", "declares": True},
    )
    assert created.status_code == 201, created.text
    preferences = Client(write_key=created.json()["write_key"], host=dev_stack.url, sync_mode=True)
    preferences.identify(
        user,
        {"newsletter_topics": "gardening"},
        context={
            "cdp": {
                "provenance": "declared",
                "expires": {"newsletter_topics": "2020-01-01T00:00:00Z"},
            }
        },
    )
    client.track(user, "Order Completed", {"revenue": 30, "order_id": "o-1"})
    profile = eventually(
        lambda: (
            (p := api(dev_stack, "GET", f"/v1/profiles/user_id:{user}").json()).get("segments")
            and p["event_count"] >= 3 + EARLIER_VIEWS
            and p
        )
    )
    assert profile["segments"] == [SEGMENT["id"]]
    return Person(user_id=user, email=email, profile_id=profile["profile_id"])


@pytest.fixture
def new_page(browser: Any) -> Iterator[Any]:
    """Opens pages in fresh browser contexts (one per person signed in), failing the test on
    any error the page raised or any rule of its CSP it broke."""
    contexts: list[Any] = []
    problems: list[str] = []

    def open_page() -> Any:
        context = browser.new_context()
        contexts.append(context)
        page = context.new_page()
        page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
        page.on(
            "console",
            lambda message: (
                problems.append(f"console: {message.text}")
                if message.type == "error" and "Content Security Policy" in message.text
                else None
            ),
        )
        return page

    yield open_page
    for context in contexts:
        context.close()
    assert problems == [], problems


def sign_in(page: Any, stack: DevStack, role: str, path: str) -> None:
    """Opens `path` of the console, which sends the browser to the sign-in form and back."""
    sign_in_page(page, stack, role, path)
    assert page.url.startswith(f"{stack.url}{path.split('?', maxsplit=1)[0]}")


def no_serious_violations(page: Any, view: str) -> None:
    """axe-core over the whole page as it is now. It is evaluated through the browser's
    debugging protocol rather than added as a <script>: the console's CSP refuses inline
    scripts, which is what `add_script_tag(path=...)` makes."""
    page.evaluate(AXE.read_text())
    violations = page.evaluate(
        """async () => (await axe.run(document, {resultTypes: ["violations"]})).violations
            .map(v => ({id: v.id, impact: v.impact, help: v.help,
                        nodes: v.nodes.slice(0, 3).map(n => n.target.join(" "))}))"""
    )
    serious = [v for v in violations if v["impact"] in ("serious", "critical")]
    assert serious == [], f"{view}: {serious}"


def test_a_marketer_finds_a_person_by_email_and_reads_their_profile(
    dev_stack: DevStack, person: Person, new_page: Any
) -> None:
    page = new_page()
    sign_in(page, dev_stack, "editor", "/console/profiles")
    assert page.locator("header .role").inner_text() == "editor"
    no_serious_violations(page, "search, empty")

    # finds the person by e-mail
    page.get_by_label("Find a person").fill(person.email)
    page.get_by_role("button", name="Search").click()
    page.wait_for_selector("text=1 profile match")
    assert page.url.endswith("/console/profiles?q=" + quote(person.email, safe=""))
    results = page.locator(".results table")
    assert person.user_id in results.inner_text()
    no_serious_violations(page, "search results")

    # opens the profile: who they are and how each identity was linked
    results.get_by_role("link", name=person.email).click()
    page.wait_for_selector(f"h1 >> text=Profile: {person.email}")
    assert page.url == f"{dev_stack.url}/console/profiles/profile_id:{person.profile_id}"
    identities = page.locator("#identities-heading + table")
    assert person.user_id in identities.inner_text()
    assert "carried by this person's own events" in identities.inner_text()
    assert "recorded in the audit log" in page.locator("main").inner_text()

    # traits by provenance: the observed e-mail with its source, the declared answer expired
    traits = page.locator("section.part", has=page.locator("#traits-heading"))
    plan = traits.locator(".group", has_text="Observed").locator("tr", has_text="plan")
    value, source, set_at, expires, status = plan.locator("td").all_inner_texts()
    assert (value, source, expires, status) == ("pro", "dev", "never", "counts")  # dev: the key
    assert ANY_TIME.fullmatch(set_at)
    declared = traits.locator(".group", has_text="Declared").locator(
        "tr", has_text="newsletter_topics"
    )
    assert "expired: to be asked again" in declared.inner_text()

    # the segment, with why they are in it
    segment = page.locator(".segment", has_text=SEGMENT["name"])
    assert "computed orders_30d is at least 1; actual: 1 holds" in segment.inner_text()

    # the timeline, newest first; an event opens to its JSON
    page.wait_for_selector(".timeline .event")
    assert page.locator(".timeline .event").count() == 25
    page.get_by_role("button", name="Older events").click()
    page.wait_for_selector(f"text={3 + EARLIER_VIEWS} events shown.")
    assert page.get_by_role("button", name="Older events").is_hidden()
    order = page.locator(".timeline details", has_text="Order Completed")
    assert not order.locator("pre").is_visible()
    order.locator("summary").click()
    assert '"order_id": "o-1"' in order.locator("pre").inner_text()
    no_serious_violations(page, "profile")

    # what people sent is shown as text, never run as markup
    assert MARKUP in traits.inner_text()
    assert page.evaluate("() => window.injected") is None

    # the back button returns to the search, as it was
    page.go_back()
    page.wait_for_selector("text=1 profile match")
    assert page.get_by_label("Find a person").input_value() == person.email

    # and a reload keeps them signed in, on the same view
    page.reload()
    page.wait_for_selector("text=1 profile match")

    # signing out ends it: the console asks to sign in again
    page.get_by_role("link", name="Sign out").click()
    page.wait_for_selector("text=Sign in to the console")


def test_a_viewer_sees_the_person_with_their_personal_data_hidden(
    dev_stack: DevStack, person: Person, new_page: Any
) -> None:
    page = new_page()
    # a colleague shared the profile's link
    sign_in(page, dev_stack, "viewer", f"/console/profiles/profile_id:{person.profile_id}")
    page.wait_for_selector(".timeline .event")
    page.wait_for_selector("text=Personal data is hidden.")
    for summary in page.locator(".timeline summary").all():
        summary.click()
    shown = page.content() + page.locator("body").inner_text()
    assert person.email not in shown
    assert person.user_id not in shown
    assert "gardening" not in shown  # what they declared is theirs
    # what is not personal stays readable
    assert SEGMENT["name"] in shown
    assert "Order Completed" in shown
    assert "Audit log" not in page.locator("nav").inner_text()
    no_serious_violations(page, "profile, masked")

    # searching by the e-mail address finds them, masked
    page.get_by_role("link", name="Profiles", exact=True).click()
    page.get_by_label("Find a person").fill(person.email)
    page.get_by_role("button", name="Search").click()
    page.wait_for_selector("text=1 profile match")
    listed = page.locator(".results tbody").inner_text()
    assert person.email not in listed
    assert person.user_id not in listed
    assert "Personal data is hidden." in page.locator("main").inner_text()
    no_serious_violations(page, "search results, masked")


def test_an_admin_reads_who_looked_at_whom(
    dev_stack: DevStack, person: Person, new_page: Any
) -> None:
    # an editor's unmasked view is audited, with the reason given
    editor = new_page()
    sign_in(
        editor,
        dev_stack,
        "editor",
        f"/console/profiles/profile_id:{person.profile_id}?reason=ticket-42",
    )
    editor.wait_for_selector(".timeline .event")

    admin = new_page()
    sign_in(admin, dev_stack, "admin", "/console/audit")
    entries = admin.locator("tbody tr", has_text="ticket-42")
    row = entries.filter(has_text="viewed the profile").first
    row.wait_for()
    assert "editor@console.local" in row.inner_text()
    assert entries.filter(has_text="read the timeline").count() == 1
    no_serious_violations(admin, "audit log")

    # the audit entry links to the profile
    row.get_by_role("link").click()
    admin.wait_for_selector(f"h1 >> text=Profile: {person.email}")
