"""The console's overview in a real browser (headless Chromium against a `cdp dev` of its own, as
`test_console_browser.py`, so that its figures are this test's alone): a viewer who asked for
/console comes back to it after signing in, sees events sent through the collector counted and
charted once the page asks again (every 30 s; the test moves the page's clock on), the share of
profiles identified, a consent rate and the consent granted by week, each figure leading to
where it is explained. axe-core checks the view."""

# ruff: noqa: F811 (the test takes `new_page`, imported as a fixture, as its parameter)

from __future__ import annotations

import uuid
from typing import Any

import pytest
import requests
from segment.analytics.client import Client

from tests.e2e.conftest import WRITE_KEY, DevStack
from tests.e2e.test_console_browser import (
    api,
    eventually,
    new_page,  # noqa: F401 (a fixture)
    no_serious_violations,
    sign_in,
)

pytestmark = pytest.mark.e2e


def figure(page: Any, label: str) -> Any:
    return page.locator(".card", has=page.locator("h3", has_text=label))


def test_a_viewer_reads_the_overview_and_sees_what_arrived(
    dev_stack: DevStack, new_page: Any
) -> None:
    # a viewer asks for /console: the sign-in brings them back to it, the overview
    page = new_page()
    # the page's own clock, which the test moves on to the next refresh (time flows as usual)
    page.clock.install()
    sign_in(page, dev_stack, "viewer", "/console")
    assert page.url == f"{dev_stack.url}/console"
    page.wait_for_selector("h1 >> text=Overview")
    nav = page.get_by_role("navigation", name="Console")
    assert nav.get_by_role("link").first.inner_text() == "Overview"
    assert nav.get_by_role("link", name="Overview").get_attribute("aria-current") == "page"
    stored = figure(page, "Stored in the last hour").locator(".figure")
    # (the cards may not be drawn yet when the heading is: a missing one is waited for too)
    page.wait_for_function(
        "() => document.querySelector('.card .figure')?.textContent.startsWith('…') === false"
    )
    assert stored.inner_text() == "0"
    assert "none arrived" in (page.locator("svg.events-chart title").text_content() or "")
    no_serious_violations(page, "overview, nothing yet")

    # events arrive: someone who signed up, consenting to marketing, and an anonymous visitor;
    # and a message without an id, refused
    user = f"overview-{uuid.uuid4().hex[:8]}"
    client = Client(write_key=WRITE_KEY, host=dev_stack.url, sync_mode=True)
    marketing = {"consent": {"categoryPreferences": {"marketing": True}}}
    client.identify(user, {"email": f"{user}@example.com"}, context=marketing)
    client.page(user, name="Pricing")
    client.track(user, "Order Completed", {"revenue": 30})
    # (in a batch with a valid message: a request refused whole answers 400 and is not counted)
    batch = [
        {"type": "page", "anonymousId": f"visitor-{user}", "name": "Home"},
        {"type": "track", "event": "Nobody Knows"},
    ]
    sent = requests.post(
        f"{dev_stack.url}/v1/batch", json={"batch": batch}, auth=(WRITE_KEY, ""), timeout=10
    )
    assert sent.status_code == 200, sent.text
    eventually(
        lambda: (
            api(dev_stack, "GET", f"/v1/profiles/user_id:{user}").json().get("event_count", 0) >= 3
            and api(dev_stack, "GET", f"/v1/profiles/anonymous_id:visitor-{user}").status_code
            == 200
        )
    )

    # the page asks again 30 s later, on its own timer (its clock moved on 30 s here, rather
    # than waited for): the four stored events are counted and charted
    page.clock.fast_forward(30_000)
    page.wait_for_function(
        "label => [...document.querySelectorAll('.card')].some(card =>"
        " card.querySelector('h3')?.textContent === label"
        " && card.querySelector('.figure')?.textContent === '4')",
        arg="Stored in the last hour",
        timeout=45_000,
    )
    assert figure(page, "Stored in the last day").locator(".figure").inner_text() == "4"
    assert figure(page, "Refused in the last day").locator(".figure").inner_text() == "1"
    assert figure(page, "Failed in the last day").locator(".figure").inner_text() == "0"
    chart = page.locator("svg.events-chart")
    assert chart.get_attribute("role") == "img"
    assert "4 stored" in (chart.locator("title").text_content() or "")
    assert "1 refused" in (chart.locator("title").text_content() or "")
    assert chart.locator("rect.bar.stored").count() >= 1
    assert all(
        float(bar.get_attribute("height") or 0) > 0 for bar in chart.locator("rect.bar").all()
    )
    # the figures behind the chart, for screen readers: a table of the 60 minutes
    minutes = page.locator("table.per-minute tbody tr")
    assert minutes.count() == 60
    per_minute = [int(cell) for cell in minutes.locator("td:nth-of-type(1)").all_inner_texts()]
    assert sum(per_minute) == 4

    # the profiles: both counted, one of two identified, one of two consented to marketing
    assert figure(page, "Profiles").locator(".figure").inner_text() == "2"
    assert "every profile counted" in figure(page, "Profiles").inner_text()
    assert figure(page, "Identified").locator(".figure").inner_text() == "50%"
    rate = page.locator(".rate", has=page.locator(".purpose", has_text="marketing"))
    assert "Granted 50%" in rate.inner_text()
    assert "Denied 0%" in rate.inner_text()
    assert "No decision 50%" in rate.inner_text()

    # consent granted by week: a small chart per purpose, said in words with the latest share,
    # its 12 weeks as a table, and what it is read from beneath
    weekly = page.locator("svg.consent-chart")
    assert weekly.get_attribute("role") == "img"
    said = weekly.locator("title").text_content() or ""
    now = said.partition("Now: ")[2]
    assert "marketing 50%" in now, said
    assert "No profile had been seen before." in said, said
    assert weekly.locator("text.name", has_text="marketing").count() == 1
    weeks = page.locator("table.per-week tbody tr")
    assert weeks.count() == 12
    header = page.locator("table.per-week thead th").all_inner_texts()
    assert weeks.last.locator("td").nth(header.index("marketing granted") - 1).inner_text() == "50%"
    assert weeks.first.locator("td").last.inner_text() == "no profiles"
    assert "Read from every profile's consent history" in (
        page.locator("#consent-weeks-heading ~ p.help").first.inner_text()
    )
    no_serious_violations(page, "overview")

    # each figure leads to where it is explained
    refused_card = figure(page, "Refused in the last day")
    assert refused_card.get_by_role("link").get_attribute("href") == "/console/live"
    assert figure(page, "Profiles").get_by_role("link").get_attribute("href") == (
        "/console/profiles"
    )
    assert page.get_by_role("link", name="see the forms and what they ask for").get_attribute(
        "href"
    ) == ("/console/forms")
    failed = figure(page, "Failed in the last day")
    failed.get_by_text("What happens to them").click()
    assert "cdp redrive" in failed.locator("details").inner_text()
    assert "failure queue" in failed.locator("details").inner_text()

    # a reload shows the same; the refused figure opens Live events
    page.reload()
    figure(page, "Stored in the last hour").locator(".figure", has_text="4").wait_for()
    figure(page, "Refused in the last day").get_by_role("link").click()
    page.wait_for_selector("h1 >> text=Live events")
    assert page.url == f"{dev_stack.url}/console/live"
    page.get_by_role("link", name="Overview").click()
    page.wait_for_selector("h1 >> text=Overview")
    assert page.url == f"{dev_stack.url}/console"
