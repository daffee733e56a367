"""The tracker in a real browser: headless Chromium (Debian's package) driven by Playwright,
against `cdp dev` serving the demo page."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from tests.e2e.conftest import SECRET_KEY, DevStack, start_dev, stop_dev

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def stack() -> Iterator[DevStack]:
    stack = start_dev("--identity-secret", "browser-tests-secret")
    yield stack
    code, output = stop_dev(stack)
    assert code == 0, output


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context()
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    yield page
    context.close()
    assert errors == [], f"the page raised: {errors}"


def profile(stack: DevStack, identity: str) -> dict[str, Any]:
    answer = requests.get(
        f"{stack.url}/v1/profiles/{requests.utils.quote(identity, safe='')}",
        headers={"Authorization": f"Bearer {SECRET_KEY}"},
        timeout=10,
    )
    return answer.json() if answer.status_code == 200 else {}


def eventually(page: Any, check: Any, timeout: float = 20.0) -> Any:
    """Waits for `check` while letting the page run (Playwright's sync API handles routes
    and events only inside its own calls, so a plain sleep would freeze the page)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if result := check():
            return result
        page.wait_for_timeout(250)
    raise AssertionError("not within the time allowed")


def anonymous_id(page: Any) -> str:
    return page.evaluate("() => localStorage.getItem('cdp_aid')")


def test_a_visitor_browses_consents_answers_and_signs_in(stack: DevStack, page: Any) -> None:
    # a visitor arrives and accepts analytics in the banner
    page.goto(f"{stack.url}/demo")
    page.click("#accept")
    page.click("#nav-pricing")
    page.wait_for_load_state()
    page.click("#nav-insurance")
    page.wait_for_load_state()

    # the progressive form asks two questions, each with its purpose
    page.wait_for_selector(".cdp-question")
    assert page.locator(".cdp-question").count() == 2
    assert page.locator(".cdp-purpose").first.inner_text() == (
        "So we can offer moving insurance at the right time"
    )
    page.check("input[name=moving_soon]")
    page.select_option("select[name=home]", "own")
    page.check("input[name='consent:personalization']")
    page.click(".cdp-form button")
    page.wait_for_selector("input[name=children]")  # the next two
    page.fill("input[name=children]", "2")
    page.check("input[name=car]")
    page.click(".cdp-form button")
    page.wait_for_selector(".cdp-done")

    # and signs in (the demo's "back end" signs the user id)
    visitor = anonymous_id(page)
    user = f"browser-{visitor[:8]}"
    page.fill("#signin input[name=user]", user)
    page.fill("#signin input[name=email]", f"{user}@example.com")
    page.click("#signin button")

    # one profile: the browser and the user, declared answers with their source, consent
    # (waited for whole: a clean-clone CI once read it merged but without the sign-in's e-mail)
    merged = eventually(
        page,
        lambda: (
            (p := profile(stack, f"user_id:{user}"))
            and f"anonymous_id:{visitor}" in {f"{i['type']}:{i['value']}" for i in p["identities"]}
            and "email" in p["traits"]
            and p
        ),
    )
    assert profile(stack, f"anonymous_id:{visitor}")["profile_id"] == merged["profile_id"]
    assert merged["traits"] == {
        "moving_soon": True,
        "home": "own",
        "children": 2,
        "car": True,
        "email": f"{user}@example.com",
    }
    for trait in ("moving_soon", "home", "children", "car"):
        assert merged["trait_sources"][trait]["kind"] == "declared"
    assert merged["trait_sources"]["moving_soon"]["expires_at"] is not None
    assert merged["consent"]["analytics"]["state"] == "granted"
    assert merged["consent"]["personalization"]["state"] == "granted"
    assert merged["consent"]["marketing"]["state"] == "denied"
    assert merged["computed"]["page_views"] == 2  # the one before consent was never sent

    # the preference center shows what they told us
    page.click("#load-preferences")
    page.wait_for_selector(".preference")
    assert 'Do you own or rent your home?: "own"' in page.locator("#preferences").inner_text()


def test_events_survive_an_outage_and_a_reload_and_arrive_once(stack: DevStack, page: Any) -> None:
    attempts: list[str] = []

    def fail(route: Any) -> None:
        attempts.append(route.request.url)
        route.fulfill(status=503, body='{"message": "down"}')

    # the collector is down while the visitor consents, browses and buys
    page.route("**/v1/batch", fail)
    page.goto(f"{stack.url}/demo")
    page.click("#accept")
    page.click("#buy")
    eventually(page, lambda: len(attempts) >= 2)  # retried, with backoff
    visitor = anonymous_id(page)
    queued = page.evaluate("() => JSON.parse(localStorage.getItem('cdp_queue')).length")
    assert queued == 2  # Consent Updated and the order (the page view came before consent)

    # the page is reloaded during the outage, then the collector comes back
    page.reload()
    page.unroute("**/v1/batch")
    person = eventually(
        page,
        lambda: (
            (p := profile(stack, f"anonymous_id:{visitor}"))
            and p.get("computed", {}).get("orders") == 1
            and p
        ),
    )

    # every event is stored exactly once, with its original messageId
    stored = Counter(
        m["messageId"] for m in stack.stored_messages() if m.get("anonymousId") == visitor
    )
    assert stored
    assert set(stored.values()) == {1}
    assert person["computed"]["revenue"] == 49
    eventually(page, lambda: page.evaluate("() => localStorage.getItem('cdp_queue')") is None)


def test_with_consent_declined_nothing_is_sent_and_nothing_is_stored(
    stack: DevStack, page: Any
) -> None:
    sent: list[str] = []
    page.on(
        "request",
        lambda request: (
            sent.append(request.url) if request.method == "POST" or "/v1/t" in request.url else None
        ),
    )
    page.goto(f"{stack.url}/demo")
    page.click("#decline")
    page.click("#nav-pricing")
    page.wait_for_load_state()
    page.click("#buy")
    page.wait_for_timeout(2000)

    assert sent == []
    assert [c["name"] for c in page.context.cookies() if c["name"].startswith("cdp_")] == []
    stored = page.evaluate("() => Object.keys(localStorage).filter((k) => k.startsWith('cdp_'))")
    assert stored == ["cdp_consent"]  # the choice itself, so that the banner stays away


# What the tracker may weigh on the wire, compressed (the build's gzip budget is 3 KB).
TRACKER_WIRE_BUDGET = 3 * 1024


def test_the_tracker_arrives_compressed_and_its_forms_helpers_from_an_immutable_path(
    stack: DevStack, page: Any
) -> None:
    from importlib.resources import files

    responses: dict[str, Any] = {}
    page.on("response", lambda response: responses.setdefault(response.url, response))

    # a visitor opens a page with the loader stub and a progressive form
    page.goto(f"{stack.url}/demo")
    eventually(page, lambda: any("/v1/static/cdp-forms." in url for url in responses))
    page.wait_for_load_state("networkidle")

    # the tracker came compressed: its bytes on the wire, as Chromium measured them
    tracker = responses[f"{stack.url}/v1/cdp.js"]
    built = files("cdp").joinpath("static", "cdp.js").read_bytes()
    assert tracker.status == 200
    assert tracker.headers["content-encoding"] in ("br", "gzip")
    assert "accept-encoding" in tracker.headers["vary"].lower()
    wire = tracker.request.sizes()["responseBodySize"]
    timing = page.evaluate(
        """() => performance.getEntriesByType("resource")
             .filter((entry) => new URL(entry.name).pathname === "/v1/cdp.js")
             .map((entry) => ({encoded: entry.encodedBodySize, decoded: entry.decodedBodySize,
                               transfer: entry.transferSize}))[0]"""
    )
    assert timing["decoded"] == len(built)  # the whole tracker, once decoded
    assert timing["encoded"] == wire
    assert wire <= TRACKER_WIRE_BUDGET < len(built)
    print(
        f"\ncdp.js on the wire: {wire} bytes {tracker.headers['content-encoding']} "
        f"({timing['transfer']} with headers) for {len(built)} bytes; "
        f"asked with Accept-Encoding: {tracker.request.all_headers().get('accept-encoding')}"
    )

    # its forms helpers came from their content-hash path, compressed, cacheable for a year
    [forms] = [r for url, r in responses.items() if "/v1/static/cdp-forms." in url]
    assert forms.status == 200
    assert forms.headers["content-encoding"] in ("br", "gzip")
    assert forms.headers["cache-control"] == "public, max-age=31536000, immutable"


def test_the_forms_helpers_still_load_when_their_version_is_gone(
    stack: DevStack, page: Any
) -> None:
    # a page that loaded the tracker before a deploy asks for a version no longer served
    page.route("**/v1/static/cdp-forms.*", lambda route: route.fulfill(status=404, body="{}"))
    stable: list[int] = []
    page.on(
        "response",
        lambda response: (
            stable.append(response.status) if response.url.endswith("/v1/cdp-forms.js") else None
        ),
    )

    page.goto(f"{stack.url}/demo")

    # the tracker falls back to the stable path, and the form is asked all the same
    eventually(page, lambda: stable == [200])
    assert stable == [200]
    page.click("#accept")
    page.click("#nav-insurance")
    page.wait_for_selector(".cdp-question")
    assert page.locator(".cdp-question").count() >= 1
