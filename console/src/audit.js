// /console/audit: who looked at, exported or erased whom, and why; newest first (admins).
import { get } from "./api.js";
import { append, h, replace } from "./dom.js";
import { time } from "./format.js";
import { personLink } from "./people.js";

const ACTIONS = {
  search: "found in a search",
  view_profile: "viewed the profile",
  view_events: "read the timeline",
  export: "exported",
  erase: "erased",
  export_members: "listed a segment's members with identifiers",
};

// The person an entry is about, or the segment whose members were listed.
function about(entry) {
  if (!entry.segment_id) return personLink(entry.profile_id, []);
  const href = `/console/segments/${encodeURIComponent(entry.segment_id)}`;
  return h("a", { href }, `segment ${entry.segment_id}`);
}

export function auditView(view) {
  const status = h("p", { role: "status", class: "status" }, "Loading the audit log…");
  const body = h("tbody");
  const older = h("button", { type: "button", class: "secondary", hidden: true }, "Older entries");
  const log = h(
    "table",
    { hidden: true },
    h(
      "caption",
      {},
      "Every view of a person's unmasked profile, every export and erasure, newest first",
    ),
    h(
      "thead",
      {},
      h(
        "tr",
        {},
        ["When", "Who", "Did", "Found by", "Profile", "Reason"].map((name) =>
          h("th", { scope: "col" }, name),
        ),
      ),
    ),
    body,
  );
  const problem = h("div");
  replace(view, h("h1", {}, "Audit log"), status, log, older, problem);

  let cursor = null;
  let shown = 0;
  const load = () => {
    older.disabled = true;
    get("audit", { cursor }).then(
      (page) => {
        for (const entry of page.entries) {
          append(body, [
            h(
              "tr",
              {},
              h("th", { scope: "row" }, time(entry.at)),
              h("td", {}, entry.actor),
              h("td", {}, ACTIONS[entry.action] || entry.action),
              h("td", {}, entry.asked_for),
              h("td", {}, about(entry)),
              h("td", {}, entry.reason || h("span", { class: "muted" }, "none given")),
            ),
          ]);
        }
        shown += page.entries.length;
        cursor = page.cursor;
        log.hidden = shown === 0;
        older.hidden = !cursor;
        older.disabled = false;
        status.textContent = shown
          ? `${shown} entries shown${cursor ? "; older ones exist" : ""}.`
          : "Nothing is recorded yet.";
      },
      (error) => {
        status.textContent = "";
        older.disabled = false;
        replace(problem, h("p", { role: "alert", class: "error" }, error.message));
      },
    );
  };
  older.addEventListener("click", load);
  load();
  return { title: "Audit log" };
}
