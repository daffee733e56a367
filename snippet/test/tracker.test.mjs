// The tracker against a fake window and a fake collector: batching, retries that keep the
// same messageId and timestamp, consent, and nothing thrown into the page.
import assert from "node:assert/strict";
import { afterEach, beforeEach, mock, test } from "node:test";

import { create } from "../src/index.js";
import { local } from "../src/storage.js";

function fakeWindow() {
  const listeners = {};
  return {
    listeners,
    location: new URL("https://shop.example/pricing?utm_source=news&utm_campaign=winter"),
    document: {
      title: "Pricing",
      referrer: "https://search.example/",
      visibilityState: "visible",
      addEventListener: (name, fn) => (listeners[name] = fn),
    },
    navigator: { userAgent: "test-agent", language: "nl-NL", sendBeacon: () => true },
    screen: { width: 1280, height: 800 },
    addEventListener: (name, fn) => (listeners[name] = fn),
  };
}

function collector(statuses = []) {
  const received = [];
  const fetch = async (url, init) => {
    const status = statuses.length ? statuses.shift() : 200;
    received.push({ url, status, body: JSON.parse(init.body) });
    if (status === 0) throw new TypeError("Failed to fetch");
    return { status };
  };
  return { fetch, received };
}

beforeEach(() => {
  for (const key of ["cdp_queue", "cdp_aid", "cdp_uid", "cdp_sig", "cdp_consent"]) local.del(key);
  mock.timers.enable({ apis: ["setTimeout"] });
});

afterEach(() => mock.timers.reset());

const settle = async (ms = 0) => {
  mock.timers.tick(ms);
  for (let i = 0; i < 5; i++) await Promise.resolve();
};

test("calls within the flush window go in one batch, with Segment's context", async () => {
  const { fetch, received } = collector();
  const cdp = create(fakeWindow());
  cdp.load("wk_test", { host: "https://cdp.example", fetch });
  cdp.page();
  cdp.track("Signed Up", { plan: "pro" });
  cdp.identify("user-1", { email: "ada@example.com" });
  await settle(1000);

  assert.equal(received.length, 1);
  const { url, body } = received[0];
  assert.equal(url, "https://cdp.example/v1/batch");
  assert.equal(body.writeKey, "wk_test");
  assert.deepEqual(body.batch.map((m) => m.type), ["page", "track", "identify"]);
  const [page, track, identify] = body.batch;
  assert.equal(page.context.page.path, "/pricing");
  assert.equal(page.context.page.title, "Pricing");
  assert.deepEqual(page.context.campaign, { source: "news", name: "winter" });
  assert.equal(page.context.locale, "nl-NL");
  assert.equal(page.context.library.name, "cdp.js");
  assert.equal(track.properties.plan, "pro");
  assert.equal(identify.userId, "user-1");
  assert.equal(page.anonymousId, identify.anonymousId);
});

test("a full batch goes at once", async () => {
  const { fetch, received } = collector();
  const cdp = create(fakeWindow());
  cdp.load("wk_test", { fetch, batchSize: 3 });
  for (let i = 0; i < 3; i++) cdp.track("E" + i);
  await settle(0);
  assert.equal(received.length, 1);
  assert.equal(received[0].body.batch.length, 3);
});

test("failures are retried with backoff, keeping each message's id and time", async () => {
  const { fetch, received } = collector([503, 0, 429, 200]);
  const cdp = create(fakeWindow());
  cdp.load("wk_test", { fetch, retryBase: 100 });
  cdp.track("Order Completed");
  await settle(1000); // 503
  await settle(100); // network error (first retry waits at most 100 ms)
  await settle(200); // 429
  await settle(400); // taken
  assert.deepEqual(received.map((r) => r.status), [503, 0, 429, 200]);
  const first = received[0].body.batch[0];
  for (const attempt of received) {
    assert.equal(attempt.body.batch[0].messageId, first.messageId);
    assert.equal(attempt.body.batch[0].timestamp, first.timestamp);
  }
  assert.equal(local.get("cdp_queue"), null, "nothing left once taken");
});

test("a refused batch is not retried for ever", async () => {
  const { fetch, received } = collector([400]);
  const cdp = create(fakeWindow());
  cdp.load("wk_test", { fetch });
  cdp.track("E");
  await settle(1000);
  await settle(60000);
  assert.equal(received.length, 1);
});

test("unsent events wait in storage and go out after a reload", async () => {
  const down = collector([503, 503, 503]);
  const first = create(fakeWindow());
  first.load("wk_test", { fetch: down.fetch });
  first.track("Added To Cart");
  await settle(1000);
  assert.ok(local.get("cdp_queue"));

  const up = collector();
  const reloaded = create(fakeWindow());
  reloaded.load("wk_test", { fetch: up.fetch });
  await settle(0);
  assert.equal(up.received.length, 1);
  assert.equal(up.received[0].body.batch[0].event, "Added To Cart");
});

test("when the page is hidden, what is queued is handed to sendBeacon", async () => {
  const win = fakeWindow();
  const beacons = [];
  win.navigator.sendBeacon = (url, blob) => beacons.push(url) && true;
  globalThis.navigator = win.navigator;
  const cdp = create(win);
  cdp.load("wk_test", { host: "https://cdp.example", fetch: collector().fetch });
  cdp.track("Leaving");
  win.listeners.pagehide();
  assert.deepEqual(beacons, ["https://cdp.example/v1/batch"]);
});

test("with consent required, nothing is sent or stored before analytics consent", async () => {
  const { fetch, received } = collector();
  const cdp = create(fakeWindow());
  cdp.load("wk_test", { fetch, requireConsent: true });
  cdp.page();
  cdp.track("Viewed");
  await settle(2000);
  assert.equal(received.length, 0);
  assert.equal(local.get("cdp_aid"), null);
  assert.equal(local.get("cdp_queue"), null);

  cdp.consent({ analytics: true, marketing: false });
  cdp.page();
  await settle(1000);
  const [consentEvent, page] = received[0].body.batch;
  assert.equal(consentEvent.event, "Consent Updated");
  assert.deepEqual(consentEvent.context.consent.categoryPreferences, { analytics: true, marketing: false });
  assert.equal(page.type, "page");
  assert.ok(local.get("cdp_aid"));
});

test("a revocation is sent once, then nothing is, and identifiers are forgotten", async () => {
  const { fetch, received } = collector();
  const cdp = create(fakeWindow());
  cdp.load("wk_test", { fetch, requireConsent: true });
  cdp.consent({ analytics: true });
  await settle(1000);
  cdp.consent({ analytics: false });
  await settle(0);
  cdp.track("After No");
  await settle(5000);
  const sent = received.flatMap((r) => r.body.batch.map((m) => m.event));
  assert.deepEqual(sent, ["Consent Updated", "Consent Updated"]);
  assert.equal(local.get("cdp_aid"), null);
});

test("Global Privacy Control denies marketing and sharing when the site honours it", async () => {
  const { fetch, received } = collector();
  const win = fakeWindow();
  win.navigator.globalPrivacyControl = true;
  const cdp = create(win);
  cdp.load("wk_test", { fetch, honorGpc: true });
  cdp.track("E");
  await settle(1000);
  assert.deepEqual(received[0].body.batch[0].context.consent.categoryPreferences, {
    marketing: false,
    sharing: false,
  });
});

test("reset starts a new anonymous visitor", async () => {
  const { fetch, received } = collector();
  const cdp = create(fakeWindow());
  cdp.load("wk_test", { fetch });
  cdp.identify("user-1");
  cdp.reset();
  cdp.track("After Logout");
  await settle(1000);
  const [identify, track] = received[0].body.batch;
  assert.equal(track.userId, undefined);
  assert.notEqual(track.anonymousId, identify.anonymousId);
});

test("no exception escapes into the page", () => {
  const cdp = create(fakeWindow());
  cdp.load("wk_test", { fetch: () => { throw new Error("boom"); } });
  assert.doesNotThrow(() => cdp.track({ not: "a name" }, 42));
  assert.doesNotThrow(() => cdp.identify(undefined, null));
  assert.doesNotThrow(() => cdp.consent(null));
});
