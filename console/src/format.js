// How values read on the page: times in UTC as the platform writes them, values as text.
import { h } from "./dom.js";

/** `2024-05-01T14:03:09.123456Z` -> a <time> reading `2024-05-01 14:03:09 UTC`. */
export function time(iso) {
  if (typeof iso !== "string" || !iso) return h("span", { class: "muted" }, "—");
  const parsed = new Date(iso);
  if (Number.isNaN(parsed.getTime())) return h("span", {}, iso);
  const text = parsed.toISOString().slice(0, 19).replace("T", " ") + " UTC";
  return h("time", { datetime: iso }, text);
}

/** A value as one line of text; `absent` says what null means where it is shown. */
export function value(data, absent = "removed (null)") {
  if (data === null || data === undefined) return h("span", { class: "muted" }, absent);
  if (typeof data === "string") return h("span", { class: "value" }, data);
  return h("code", { class: "value" }, JSON.stringify(data));
}

export function count(n, one, many = `${one}s`) {
  return `${Number(n || 0).toLocaleString("en")} ${n === 1 ? one : many}`;
}

/**
 * The path of a profile by one of its identities: `/console/profiles/email:ada@example.com`.
 * The value is percent-encoded except for characters that read well in a path.
 */
export function profilePath(type, identityValue) {
  return `/console/profiles/${encodeIdentity(`${type}:${identityValue}`)}`;
}

export function encodeIdentity(identity) {
  return encodeURIComponent(identity).replace(/%3A/gi, ":").replace(/%40/g, "@");
}
