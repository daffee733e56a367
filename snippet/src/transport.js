// Sending batches to the collector, as `text/plain` JSON (a simple request: no CORS
// preflight), and deciding what an answer means.

/** "ok": taken; "drop": refused for good (retrying cannot help); "retry": try again later. */
export const verdict = (status) =>
  status >= 200 && status < 300
    ? "ok"
    : status == 429 || status == 408 || status >= 500 || !status
      ? "retry"
      : "drop";

export async function post(url, body, fetcher = globalThis.fetch) {
  try {
    const response = await fetcher(url, {
      method: "POST",
      headers: { "Content-Type": "text/plain" },
      body,
      keepalive: body.length < 60000,
      credentials: "omit",
    });
    return response.status;
  } catch (e) {
    return 0; // network error: retry
  }
}

/** When the page goes away: the browser delivers a beacon even after the page is gone. */
export const beacon = (url, body) => {
  try {
    return navigator.sendBeacon(url, new Blob([body], { type: "text/plain" }));
  } catch (e) {
    return false;
  }
};
