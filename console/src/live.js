// /console/live/{source}: what a source sends, message by message, with what became of each,
// masked. Watching is a switch on the source's keys that expires (15 minutes here); the page
// renews it while it is open, watching and not paused, and asks for what is new every 2 s
// while the tab is visible. The filters live in the URL (?outcome=&type=&q=).
import { get, send } from "./api.js";
import { h, replace } from "./dom.js";
import { count, time } from "./format.js";
import { field, input, select } from "./form.js";

const POLL_MS = 2000;
const RETRY_MS = 10000; // after a failed request
const WATCH_MINUTES = 15;
const RENEW_MS = 2 * 60 * 1000; // renewed when less than this is left
const ANNOUNCE_MS = 10000; // counts are announced at most this often
const KEPT = 500; // messages kept on the page, the newest
const OUTCOMES = {
  stored: ["Stored", "good"],
  consent_only: ["Consent decision only", "warn"],
  not_stored: ["Not stored", "warn"],
  refused: ["Refused", "bad"],
};
const TYPES = ["track", "page", "screen", "identify", "group", "alias"];

export function liveView(view, { match }) {
  const wanted = match[1] ? decodeURIComponent(match[1]) : "";
  const title = wanted ? `Live events: ${wanted}` : "Live events";
  const pick = select([["", "Choose a source"]], wanted, { name: "source" });
  const panel = h("div");
  const status = h("p", { role: "status", class: "status" }, "Loading the sources…");
  replace(
    view,
    h("h1", {}, title),
    h(
      "p",
      { class: "help" },
      "What a source sends, as it arrives, and what became of each message: stored, kept as a consent decision only, not stored, or refused and why. Personal data is masked; what is shown is kept an hour.",
    ),
    h("div", { class: "actions" }, field(null, null, "Source", pick)),
    status,
    panel,
  );
  const open = (name) => {
    if (!name) return replace(panel);
    const source = sources.get(name);
    if (!source) return replace(panel, h("p", { role: "alert", class: "error" }, `No source is called ${name}.`));
    watchPanel(panel, source, new URLSearchParams(location.search));
  };
  let sources = new Map();
  pick.addEventListener("change", () => {
    const name = pick.value;
    history.pushState(null, "", `/console/live${name ? `/${encodeURIComponent(name)}` : ""}${location.search}`);
    document.title = `${name ? `Live events: ${name}` : "Live events"} · CDP console`;
    view.querySelector("h1").textContent = name ? `Live events: ${name}` : "Live events";
    open(name);
  });
  get("sources").then(
    (answer) => {
      sources = new Map(answer.sources.map((source) => [source.name, source]));
      status.textContent = sources.size ? "" : "No source yet: an admin creates them under Sources.";
      replace(pick, ["", ...sources.keys()].map((key) => h("option", { value: key, selected: key === wanted }, key || "Choose a source")));
      open(wanted);
    },
    (error) => {
      status.textContent = "";
      replace(panel, h("p", { role: "alert", class: "error" }, error.message));
    },
  );
  return { title };
}

let generation = 0; // of the panel: one source is watched at a time

function watchPanel(panel, source, params) {
  const name = source.name;
  const mine = ++generation;
  let until = source.watched_until ? Date.parse(source.watched_until) : 0;
  let watching = until > Date.now();
  let paused = false;
  let switched = false; // by this page
  let cursor = null;
  let timer = null;
  let busy = false;
  let failed = false;
  const shown = []; // [entry, node], oldest first
  let held = []; // what an answer brought after the pause: shown on resuming

  const toggle = h("button", { type: "button", role: "switch", class: "switch", "aria-checked": "false" }, "Watch");
  const pause = h("button", { type: "button", class: "secondary" }, "Pause");
  const state = h("p", { role: "status", class: "live-state" });
  const problem = h("div", { role: "alert" });
  const counts = h("p", { class: "status" });
  const heard = h("p", { role: "status", "aria-atomic": "true", class: "visually-hidden" });
  const list = h("ol", { class: "live", "aria-label": `Messages from ${name}, newest first` });
  const filters = {
    outcome: select(
      [["", "Any"], ...Object.entries(OUTCOMES).map(([key, [label]]) => [key, label])],
      params.get("outcome") || "",
      { name: "outcome" },
    ),
    type: select(
      [["", "Any"], ...TYPES.map((type) => [type, type])],
      params.get("type") || "",
      { name: "type" },
    ),
    q: input({ type: "search", name: "q", value: params.get("q") || "" }),
  };
  replace(
    panel,
    h("div", { class: "live-controls" }, toggle, pause),
    state,
    problem,
    h(
      "fieldset",
      { class: "filters" },
      h("legend", {}, "Show"),
      field(null, null, "Outcome", filters.outcome),
      field(null, null, "Type", filters.type),
      field(null, null, "Event name contains", filters.q),
    ),
    counts,
    heard,
    list,
  );

  const alive = () => panel.isConnected && generation === mine;
  const running = () => watching && !paused && document.visibilityState === "visible" && alive();
  const schedule = (delay) => {
    clearTimeout(timer);
    timer = running() && !busy ? setTimeout(tick, delay) : null;
  };
  const clock = (at) => new Date(at).toISOString().slice(11, 16) + " UTC";

  function draw() {
    toggle.setAttribute("aria-checked", String(watching));
    pause.disabled = !watching;
    pause.textContent = paused ? "Resume" : "Pause";
    const said = !watching
      ? "Not watching: nothing new is recorded. Switch on Watch to see what the source sends."
      : paused
        ? `Paused: nothing new is shown until you resume. What arrives is kept an hour; watching ends at ${clock(until)} unless you resume.`
        : `Watching ${name}${until ? ` until ${clock(until)}, renewed while this page is open` : ""}. Messages appear within a minute of switching on (as soon as the collector next reads the source's key).`;
    if (state.textContent !== said) state.textContent = said; // a status says only what changed
  }

  async function watchFor(minutes) {
    const answer = await send("POST", `sources/${encodeURIComponent(name)}/watch`, { minutes });
    until = answer.source.watched_until ? Date.parse(answer.source.watched_until) : 0;
  }

  async function poll() {
    const page = await get(`sources/${encodeURIComponent(name)}/live`, { cursor });
    if (!alive()) return;
    cursor = page.cursor || cursor;
    if (page.watched_until) until = Date.parse(page.watched_until);
    held.push(...page.entries);
    if (!paused) show();
  }

  function show() {
    const entries = held;
    held = [];
    for (const entry of entries) {
      const node = entryOf(entry);
      shown.push([entry, node]);
      node.hidden = !matches(entry);
      list.prepend(node);
    }
    for (const [, node] of shown.splice(0, Math.max(0, shown.length - KEPT))) node.remove();
    if (entries.length) announce();
  }

  async function tick() {
    timer = null;
    if (!running()) return;
    busy = true;
    try {
      if (until - Date.now() < RENEW_MS) await watchFor(WATCH_MINUTES);
      await poll();
      failed = false;
      replace(problem);
    } catch (error) {
      failed = true;
      replace(problem, h("p", { class: "error" }, `${error.message} Trying again.`));
    }
    busy = false;
    if (alive()) draw();
    schedule(failed ? RETRY_MS : POLL_MS);
  }

  function matches(entry) {
    const q = filters.q.value.trim().toLowerCase();
    return (
      (!filters.outcome.value || entry.outcome === filters.outcome.value) &&
      (!filters.type.value || entry.type === filters.type.value) &&
      (!q || nameOf(entry).toLowerCase().includes(q))
    );
  }

  // What is shown, in words, at once; a screen reader hears it at most every 10 s.
  let announced = 0;
  let pending = null;
  function announce() {
    counts.textContent = said();
    const wait = announced + ANNOUNCE_MS - Date.now();
    if (wait > 0) {
      pending ||= setTimeout(() => ((pending = null), announce()), wait);
      return;
    }
    announced = Date.now();
    heard.textContent = counts.textContent;
  }
  function said() {
    const visible = shown.filter(([, node]) => !node.hidden).map(([entry]) => entry);
    const by = Object.entries(OUTCOMES)
      .map(([key, [label]]) => [visible.filter((entry) => entry.outcome === key).length, label])
      .filter(([n]) => n)
      .map(([n, label]) => `${n} ${label.toLowerCase()}`);
    return (
      (visible.length === shown.length
        ? `${count(shown.length, "message")} shown`
        : `${visible.length} of ${count(shown.length, "message")} shown (filtered)`) +
      (by.length ? `: ${by.join(", ")}.` : ".")
    );
  }

  const refilter = () => {
    const query = new URLSearchParams(location.search);
    for (const [key, control] of Object.entries(filters)) {
      const value = control.value.trim();
      if (value) query.set(key, value);
      else query.delete(key);
    }
    const search = query.toString();
    history.replaceState(null, "", `${location.pathname}${search ? `?${search}` : ""}`);
    for (const [entry, node] of shown) node.hidden = !matches(entry);
    announced = 0;
    announce();
  };
  for (const control of Object.values(filters)) control.addEventListener("input", refilter);

  toggle.addEventListener("click", () => {
    toggle.disabled = true;
    replace(problem);
    const on = !watching;
    switched = true;
    // Off: the switch ends now (the collector stops when its cached key expires).
    watchFor(on ? WATCH_MINUTES : 0).then(
      () => {
        toggle.disabled = false;
        watching = on;
        paused = false;
        draw();
        schedule(0);
      },
      (error) => {
        toggle.disabled = false;
        replace(problem, h("p", { class: "error" }, error.message));
      },
    );
  });
  pause.addEventListener("click", () => {
    paused = !paused;
    if (!paused) show();
    draw();
    schedule(0);
  });
  const visibility = () => (alive() ? schedule(0) : document.removeEventListener("visibilitychange", visibility));
  document.addEventListener("visibilitychange", visibility);

  draw();
  // What arrived in the last hour, then what is new.
  busy = true;
  poll().then(
    () => {
      busy = false;
      if (!switched && until > Date.now()) watching = true; // someone else switched it on
      draw();
      if (!shown.length) counts.textContent = "Nothing has arrived while watched in the last hour.";
      schedule(POLL_MS);
    },
    (error) => {
      busy = false;
      replace(problem, h("p", { class: "error" }, error.message));
      schedule(RETRY_MS);
    },
  );
}

function entryOf(entry) {
  const [label, tone] = OUTCOMES[entry.outcome] || [entry.outcome, ""];
  const message =
    typeof entry.message === "string"
      ? `${entry.message}\n(cut: the message is longer than is shown)`
      : JSON.stringify(entry.message ?? null, null, 2);
  return h(
    "li",
    { class: `entry ${entry.outcome}` },
    h(
      "details",
      {},
      h(
        "summary",
        {},
        time(entry.at),
        " ",
        h("span", { class: "kind" }, entry.type || "?"),
        " ",
        h("span", { class: "name" }, nameOf(entry)),
        " ",
        h("span", { class: `badge ${tone}` }, label),
        entry.reason ? [" ", h("span", { class: "reason" }, entry.reason)] : null,
      ),
      h("pre", { class: "json" }, message),
    ),
  );
}

// A refused message's name is read from what was sent (masked, but names are kept).
function nameOf(entry) {
  const sent = entry.message && typeof entry.message === "object" ? entry.message.event : null;
  return String(entry.event || (typeof sent === "string" ? sent : ""));
}
