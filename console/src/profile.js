// /console/profiles/{type}:{value}: the 360° profile. Everything the platform knows about one
// person with where each fact came from, then the timeline of their events a page at a time.
import { ApiError, get } from "./api.js";
import { append, facts, h, replace, table } from "./dom.js";
import { count, encodeIdentity, time, value } from "./format.js";
import { displayName, maskedNotice } from "./people.js";
import { explanation } from "./explain.js";

const KINDS = {
  declared: "Declared: what the person told us",
  imported: "Imported: from other systems",
  observed: "Observed: seen in their events",
};
const EVENTS_PER_PAGE = 25;
const TYPES = ["track", "page", "screen", "identify", "group", "alias"];

export function profileView(view, { match, params, session }) {
  const identity = decodeURIComponent(match[1]);
  const reason = params.get("reason");
  const heading = h("h1", {}, "Profile");
  const status = h("p", { role: "status", class: "status" }, "Loading the profile…");
  const sheetArea = h("div");
  const timeline = h("section", { "aria-labelledby": "events-heading" });
  const rights = h("div");
  replace(view, heading, status, sheetArea, timeline, rights);

  const path = `profiles/${encodeIdentity(identity)}`;
  get(path, { reason }).then(
    ({ masked, profile }) => {
      const name = displayName(profile.identities, profile.profile_id);
      heading.textContent = `Profile: ${name}`;
      document.title = `${name} · CDP console`;
      status.textContent = "";
      replace(sheetArea, sheet(profile, masked, session));
      events(timeline, path, reason, TYPES.includes(params.get("type")) ? params.get("type") : "");
      if (["export", "erase"].some((ability) => session.abilities.includes(ability))) {
        import("./privacy.js").then(({ privacyPart }) => {
          const erased = () => {
            replace(sheetArea, h("p", { class: "notice" }, `${identity} is erased: nothing is held any more.`));
            replace(timeline);
          };
          replace(rights, privacyPart(identity, session, erased));
        });
      }
    },
    (error) => {
      heading.textContent =
        error instanceof ApiError && error.status === 404 ? "No such person" : "Profile";
      status.textContent = "";
      replace(sheetArea, h("p", { role: "alert", class: "error" }, error.message));
    },
  );
  return { title: "Profile" };
}

function sheet(profile, masked, session) {
  return [
    masked
      ? maskedNotice(session, true)
      : h(
          "p",
          { class: "audited" },
          "You see this person's personal data. This view is recorded in the audit log.",
        ),
    facts(
      [
        ["Profile id", h("code", {}, profile.profile_id)],
        ["First seen", time(profile.first_seen)],
        ["Last seen", time(profile.last_seen)],
        ["Events", count(profile.event_count, "event")],
        ["As of", time(profile.as_of)],
      ],
      { className: "summary" },
    ),
    section("identities", "Identities", identitiesOf(profile)),
    section("traits", "Traits", traitsOf(profile)),
    section("computed", "Computed traits", computedOf(profile)),
    section("segments", "Segments", segmentsOf(profile)),
    section("consent", "Consent", consentOf(profile)),
    section("merges", "Merges and splits", mergesOf(profile)),
  ];
}

function section(id, title, content) {
  return h(
    "section",
    { "aria-labelledby": `${id}-heading`, class: "part" },
    h("h2", { id: `${id}-heading` }, title),
    content,
  );
}

const none = (text) => h("p", { class: "muted" }, text);

function identitiesOf(profile) {
  const linked = table(
    "Identities and how each was linked",
    ["Type", "Value", "Linked", "How"],
    profile.identities.map((identity) => [
      identity.type,
      identity.value,
      time(identity.linked_at),
      how(identity.via),
    ]),
  );
  const ignored = profile.ignored_identities.length
    ? table(
        "Placeholders never linked (sent where an identifier should be)",
        ["Type", "Value", "Why ignored", "First seen"],
        profile.ignored_identities.map((item) => [
          item.type,
          item.value,
          item.reason,
          time(item.first_seen),
        ]),
      )
    : null;
  return [linked, ignored];
}

function how(via) {
  if (via.how === "merge") {
    return [
      "merged in from profile ",
      h("code", {}, via.profile_id),
      " at ",
      time(via.at),
      via.message_id ? [" by event ", h("code", {}, via.message_id)] : null,
    ];
  }
  if (via.how === "unmerge")
    return ["split out of profile ", h("code", {}, via.split_from), " at ", time(via.at)];
  return "carried by this person's own events";
}

function traitsOf(profile) {
  const groups = Object.entries(profile.traits).filter(([, traits]) => Object.keys(traits).length);
  if (!groups.length) return none("No traits yet.");
  return [
    h(
      "p",
      { class: "help" },
      "Each value with where it came from. Where sources disagree, the one marked “counts” is the trait; a declared value that has expired is to be asked again.",
    ),
    groups.map(([kind, traits]) =>
      h(
        "div",
        { class: "group" },
        h("h3", {}, KINDS[kind] || kind),
        table(
          `${kind} traits`,
          ["Trait", "Value", "Source", "Set", "Expires", "Status"],
          Object.entries(traits).map(([name, trait]) => [
            name,
            value(trait.value),
            trait.source || h("span", { class: "muted" }, "—"),
            time(trait.set_at),
            trait.expires_at ? time(trait.expires_at) : h("span", { class: "muted" }, "never"),
            traitStatus(trait),
          ]),
        ),
      ),
    ),
  ];
}

function traitStatus(trait) {
  if (trait.ask_again) return h("span", { class: "badge warn" }, "expired: to be asked again");
  if (trait.expired) return h("span", { class: "badge warn" }, "expired");
  if (trait.counts) return h("span", { class: "badge good" }, "counts");
  return h("span", { class: "badge" }, "outranked by another source");
}

function computedOf(profile) {
  const entries = Object.entries(profile.computed || {});
  if (!entries.length) return none("No computed traits.");
  return table(
    "Computed from the person's events, now",
    ["Name", "Value"],
    entries.map(([name, data]) => [name, value(data, "none")]),
  );
}

function segmentsOf(profile) {
  if (!profile.segments.length) return none("In no segment.");
  return h(
    "ul",
    { class: "segments plain" },
    profile.segments.map((segment) =>
      h(
        "li",
        { class: "segment" },
        h("h3", {}, segment.name || segment.id, " ", h("code", { class: "id" }, segment.id)),
        h("p", {}, "Member since ", time(segment.since)),
        segment.explanation
          ? explanation(segment.explanation)
          : h(
              "p",
              { class: "muted" },
              "This segment is no longer defined, so there is no explanation.",
            ),
      ),
    ),
  );
}

function consentOf(profile) {
  const current = Object.entries(profile.consent.current || {});
  const history = profile.consent.history || [];
  return [
    current.length
      ? table(
          "Consent per purpose, now",
          ["Purpose", "State", "Since", "Version", "Source"],
          current.map(([purpose, consent]) => [
            purpose,
            h(
              "span",
              { class: `badge ${consent.state === "granted" ? "good" : "warn"}` },
              consent.state,
            ),
            time(consent.at),
            consent.version ?? h("span", { class: "muted" }, "—"),
            consent.source || h("span", { class: "muted" }, "—"),
          ]),
        )
      : none("No consent recorded: every purpose is at its default."),
    history.length
      ? h(
          "details",
          {},
          h("summary", {}, `Consent history (${count(history.length, "change")})`),
          table(
            "Every consent change, oldest first",
            ["At", "Purpose", "State", "Source", "Version", "Event"],
            history.map((change) => [
              time(change.at),
              change.purpose,
              change.state,
              change.source || "—",
              change.version ?? "—",
              change.message_id ? h("code", {}, change.message_id) : "—",
            ]),
          ),
        )
      : null,
  ];
}

function mergesOf(profile) {
  const { merges = [], unmerges = [], conflicts = [] } = profile;
  if (!merges.length && !unmerges.length && !conflicts.length) {
    return none("Never merged or split, and no link was refused.");
  }
  return [
    merges.length
      ? table(
          "Profiles merged into this one, oldest first",
          ["At", "Profile merged in", "Its identities", "Caused by event"],
          merges.map((merge) => [
            time(merge.at),
            h("code", {}, merge.profile_id),
            (merge.identities || []).join(", "),
            merge.message_id ? [h("code", {}, merge.message_id), " ", time(merge.event_time)] : "—",
          ]),
        )
      : null,
    unmerges.length
      ? table(
          "Splits, oldest first",
          ["At", "Split from", "Identities"],
          unmerges.map((unmerge) => [
            time(unmerge.at),
            h("code", {}, unmerge.split_from || "—"),
            (unmerge.identities || []).join(", "),
          ]),
        )
      : null,
    conflicts.length
      ? table(
          "Links refused, oldest first",
          ["At", "Identity", "Refused", "Reason", "Times", "Event"],
          conflicts.map((conflict) => [
            time(conflict.at),
            conflict.identity,
            conflict.refused,
            conflict.reason,
            String(conflict.count || 1),
            conflict.message_id ? h("code", {}, conflict.message_id) : "—",
          ]),
        )
      : null,
  ];
}

// The timeline: newest first, a page at a time, of one type or all (`?type=` in the URL);
// each event opens to its JSON.
function events(area, path, reason, initial) {
  const list = h("ol", { class: "timeline plain" });
  const filter = h(
    "select",
    { id: "event-type", name: "type" },
    h("option", { value: "" }, "All events"),
    TYPES.map((type) => h("option", { value: type, selected: type === initial }, `${type} only`)),
  );
  const status = h("p", { role: "status", class: "status" }, "Loading events…");
  const older = h("button", { type: "button", class: "secondary", hidden: true }, "Older events");
  const problem = h("div");
  replace(
    area,
    h("h2", { id: "events-heading" }, "Events"),
    h("p", { class: "help" }, "Newest first. Open an event to read it as it was stored."),
    h("div", { class: "field inline" }, h("label", { for: "event-type" }, "Show"), filter),
    list,
    status,
    older,
    problem,
  );
  let cursor = null;
  let shown = 0;
  let asked = 0; // an answer for a filter no longer chosen is dropped
  const load = () => {
    older.disabled = true;
    const type = filter.value;
    const ask = ++asked;
    get(`${path}/events`, { limit: EVENTS_PER_PAGE, cursor, reason, type }).then(
      (page) => {
        if (ask !== asked) return;
        append(list, page.events.map(eventItem));
        shown += page.events.length;
        cursor = page.cursor;
        older.hidden = !cursor;
        older.disabled = false;
        const kind = type ? `${type} ` : "";
        status.textContent = shown
          ? `${count(shown, `${kind}event`)} shown${cursor ? "; older ones exist" : ""}.`
          : `No ${kind}events stored.`;
      },
      (error) => {
        older.disabled = false;
        status.textContent = "";
        replace(problem, h("p", { role: "alert", class: "error" }, error.message));
      },
    );
  };
  older.addEventListener("click", load);
  filter.addEventListener("change", () => {
    const url = new URL(location.href);
    if (filter.value) url.searchParams.set("type", filter.value);
    else url.searchParams.delete("type");
    history.replaceState(null, "", url);
    cursor = null;
    shown = 0;
    replace(list);
    replace(problem);
    status.textContent = "Loading events…";
    load();
  });
  load();
}

function eventItem(message) {
  const label =
    message.type === "track"
      ? message.event
      : message.type === "page" || message.type === "screen"
        ? message.name
        : null;
  return h(
    "li",
    { class: "event" },
    h(
      "details",
      {},
      h(
        "summary",
        {},
        time(message.timestamp || message.receivedAt),
        " ",
        h("span", { class: "kind" }, message.type || "event"),
        label ? [" ", h("span", { class: "name" }, String(label))] : null,
      ),
      h("pre", { class: "json" }, h("code", {}, JSON.stringify(message, null, 2))),
    ),
  );
}
