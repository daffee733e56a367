// A person's rights on their profile (admins): export everything held as a JSON file, and
// erase them after a confirmation that names them and asks why.
import { get, send } from "./api.js";
import { h, replace, table } from "./dom.js";
import { encodeIdentity } from "./format.js";
import { field, input, Problems } from "./form.js";

const ERASED = {
  events: "Events deleted",
  events_redacted: "Other people's events with them replaced by [erased]",
  profiles_redacted: "Other profiles cleaned of them",
  refused_messages: "Refused messages deleted",
  identities: "Identities deleted (and suppressed)",
  profiles: "Profiles deleted",
};

/** The privacy section of a profile opened by `identity` (type:value), or null. */
export function privacyPart(identity, session, erased) {
  const can = (ability) => session.abilities.includes(ability);
  if (!can("export") && !can("erase")) return null;
  const path = `profiles/${encodeIdentity(identity)}`;
  return h(
    "section",
    { class: "part", "aria-labelledby": "privacy-heading" },
    h("h2", { id: "privacy-heading" }, "Export and erasure"),
    h("p", { class: "help" }, "Each export and erasure is written to the audit log with its reason."),
    can("export") ? exporter(identity, path) : null,
    can("erase") ? eraser(identity, path, erased) : null,
  );
}

function exporter(identity, path) {
  const summary = h("div", { role: "alert" });
  const problems = new Problems(summary);
  const reason = input({ name: "reason" });
  const status = h("p", { role: "status", class: "status" });
  const go = h("button", { type: "submit" }, "Export as JSON");
  const file = `person-${identity.replace(/[^A-Za-z0-9._@-]+/g, "_")}.json`;
  return h(
    "form",
    {
      class: "editor",
      novalidate: true,
      onsubmit: (event) => {
        event.preventDefault();
        if (!reason.value.trim())
          return problems.show("Nothing was exported.", { reason: "say why (such as the request's ticket)" });
        problems.clear();
        go.disabled = true;
        status.textContent = "Exporting…";
        get(`${path}/export`, { reason: reason.value.trim() }).then(
          (document_) => {
            go.disabled = false;
            const url = URL.createObjectURL(
              new Blob([JSON.stringify(document_, null, 2)], { type: "application/json" }),
            );
            const link = h("a", { href: url, download: file }, file);
            link.click();
            replace(status, "Exported and downloaded as ", link, ".");
          },
          (error) => {
            go.disabled = false;
            status.textContent = "";
            problems.show(`Nothing was exported: ${error.message}`, error.fields || {});
          },
        );
      },
    },
    h("h3", {}, "Export everything held"),
    summary,
    field(problems, "reason", "Reason for the export", reason, "Such as the ticket of the person's request."),
    go,
    status,
  );
}

function eraser(identity, path, erased) {
  const open = h("button", { type: "button", class: "danger" }, "Erase this person…");
  const area = h("div");
  const result = h("div", { role: "status" });
  const close = () => replace(area);
  open.addEventListener("click", () => {
    open.hidden = true;
    const cancel = () => {
      close();
      open.hidden = false;
      open.focus();
    };
    const finished = (counts) => {
      close();
      replace(result, done(identity, counts));
      erased();
    };
    replace(area, confirmation(identity, path, finished, cancel));
    area.querySelector("h3").focus();
  });
  return h("div", {}, h("h3", {}, "Erase"), open, area, result);
}

function confirmation(identity, path, finished, cancel) {
  const summary = h("div", { role: "alert" });
  const problems = new Problems(summary);
  const typed = input({ name: "confirm", spellcheck: "false" });
  const reason = input({ name: "reason" });
  const go = h("button", { type: "submit", class: "danger" }, "Erase for good");
  const form = h(
    "form",
    {
      class: "editor confirm",
      novalidate: true,
      onsubmit: (event) => {
        event.preventDefault();
        const found = {};
        if (typed.value.trim() !== identity) found.confirm = `type ${identity} exactly`;
        if (!reason.value.trim()) found.reason = "say why (such as the request's ticket)";
        if (Object.keys(found).length) return problems.show("Nothing was erased.", found);
        problems.clear();
        go.disabled = true;
        send("DELETE", path, undefined, { reason: reason.value.trim() }).then(
          (answer) => finished(answer.erased || {}),
          (error) => {
            go.disabled = false;
            problems.show(`Nothing was erased: ${error.message}`, error.fields || {});
          },
        );
      },
    },
    h("h3", { tabindex: "-1" }, `Erase ${identity}?`),
    h(
      "p",
      {},
      "Everything held about ",
      h("strong", {}, identity),
      " goes: every event, trait, identity and merged profile. Their identifiers are suppressed so that later events are dropped. This cannot be undone.",
    ),
    summary,
    field(problems, "confirm", `Type ${identity} to confirm`, typed),
    field(problems, "reason", "Reason for the erasure", reason, "Such as the ticket of the person's request."),
    h(
      "p",
      { class: "actions" },
      go,
      " ",
      h("button", { type: "button", class: "secondary", onclick: cancel }, "Cancel"),
    ),
  );
  return form;
}

function done(identity, counts) {
  return h(
    "div",
    { class: "erased" },
    h("p", {}, h("strong", {}, `${identity} is erased.`)),
    table(
      "What was erased",
      ["What", "How many"],
      Object.entries(ERASED).map(([key, label]) => [label, String(counts[key] ?? 0)]),
    ),
  );
}
