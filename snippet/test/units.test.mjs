// Unit tests of the tracker's parts that need no browser: queue, storage, retry timing,
// answers to sending. Run with `node --test snippet/test/`.
import assert from "node:assert/strict";
import { test } from "node:test";

import { Queue } from "../src/queue.js";
import { local } from "../src/storage.js";
import { verdict, post } from "../src/transport.js";
import { backoff, uuid } from "../src/util.js";

function memoryStore() {
  const data = {};
  return {
    data,
    get: (k) => data[k] ?? null,
    set: (k, v) => {
      data[k] = v;
    },
    del: (k) => {
      delete data[k];
    },
  };
}

const message = (n) => ({ messageId: `m${n}`, type: "track", event: "E" });

test("the queue keeps messages until they are confirmed, and survives a reload", () => {
  const store = memoryStore();
  const queue = new Queue(store, "q", 10);
  [1, 2, 3].forEach((n) => queue.push(message(n)));
  assert.deepEqual(queue.peek(2).map((m) => m.messageId), ["m1", "m2"]);
  assert.equal(queue.items.length, 3, "peeking takes nothing away");

  const reloaded = new Queue(store, "q", 10);
  assert.deepEqual(reloaded.items.map((m) => m.messageId), ["m1", "m2", "m3"]);

  reloaded.done(reloaded.peek(2));
  assert.deepEqual(new Queue(store, "q", 10).items.map((m) => m.messageId), ["m3"]);
  reloaded.done(reloaded.peek(5));
  assert.equal(store.get("q"), null, "an empty queue leaves nothing in storage");
});

test("the queue is bounded: past its size the oldest are given up", () => {
  const queue = new Queue(memoryStore(), "q", 3);
  [1, 2, 3, 4, 5].forEach((n) => queue.push(message(n)));
  assert.deepEqual(queue.items.map((m) => m.messageId), ["m3", "m4", "m5"]);
});

test("a damaged stored queue starts empty instead of failing", () => {
  const store = memoryStore();
  store.set("q", "{not json");
  assert.deepEqual(new Queue(store, "q").items, []);
});

test("storage falls back to memory where localStorage is missing", () => {
  local.set("k", "v");
  assert.equal(local.get("k"), "v");
  local.del("k");
  assert.equal(local.get("k"), null);
});

test("backoff doubles per attempt, is capped, and is jittered", () => {
  const top = () => 1; // the largest wait the jitter can pick
  assert.deepEqual([0, 1, 2, 3].map((a) => backoff(a, top)), [1000, 2000, 4000, 8000]);
  assert.equal(backoff(20, top), 60000);
  assert.equal(backoff(3, () => 0), 0);
  const waits = new Set(Array.from({ length: 50 }, () => backoff(4)));
  assert.ok(waits.size > 10, "jitter spreads retries out");
  assert.ok([...waits].every((w) => w >= 0 && w <= 16000));
});

test("answers: taken, refused for good, or worth retrying", () => {
  assert.equal(verdict(200), "ok");
  assert.equal(verdict(400), "drop");
  assert.equal(verdict(401), "drop");
  assert.equal(verdict(413), "drop");
  for (const status of [0, 408, 429, 500, 502, 503]) assert.equal(verdict(status), "retry");
});

test("a network error reads as status 0 (retry)", async () => {
  const failing = () => Promise.reject(new TypeError("Failed to fetch"));
  assert.equal(await post("https://x/v1/batch", "{}", failing), 0);
  const answering = async (url, init) => {
    assert.equal(init.headers["Content-Type"], "text/plain");
    return { status: 200 };
  };
  assert.equal(await post("https://x/v1/batch", "{}", answering), 200);
});

test("ids are unique", () => {
  const ids = new Set(Array.from({ length: 1000 }, uuid));
  assert.equal(ids.size, 1000);
});
