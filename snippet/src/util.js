// Small helpers shared by the tracker. Nothing here touches the DOM.

/** A random id (RFC 4122 v4 when crypto.randomUUID exists). */
export const uuid = () =>
  globalThis.crypto?.randomUUID?.() ??
  "xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx".replace(/[xy]/g, (c) => {
    const r = (Math.random() * 16) | 0;
    return (c == "x" ? r : (r & 3) | 8).toString(16);
  });

export const iso = (date = new Date()) => date.toISOString();

/**
 * Exponential backoff with full jitter: a random wait between 0 and
 * min(cap, base * 2^attempt) milliseconds, so that many browsers retrying after an outage do
 * not all come back at once.
 */
export const backoff = (attempt, random = Math.random, base = 1000, cap = 60000) =>
  Math.round(random() * Math.min(cap, base * 2 ** attempt));

/** Runs `fn`, swallowing any error: the tracker must never break the page. */
export const safe = (fn) =>
  function (...args) {
    try {
      return fn.apply(this, args);
    } catch (e) {
      // A tracker's bug is not the page's problem.
    }
  };
