// /console/sources: every source with the state of its keys. Admins create sources, rotate a
// write key, issue a temporary one and disable a source; a new key is shown once, with a copy
// button and (for a website) the tracker's install snippet for it.
import { get, send } from "./api.js";
import { h, replace, table } from "./dom.js";
import { time } from "./format.js";
import { field, input, Problems, select } from "./form.js";
import { installSnippet } from "./snippet.js";

const KINDS = ["website", "app", "server", "crm", "email", "other"];
const STATES = { active: "good", expiring: "warn", expired: "", disabled: "" };

export function sourcesView(view, { session }) {
  const admin = session.abilities.includes("manage_keys");
  const status = h("p", { role: "status", class: "status" }, "Loading the sources…");
  const key = h("div", { class: "new-key-area" });
  const list = h("div");
  const load = () =>
    get("sources").then(
      ({ sources }) => {
        status.textContent = sources.length
          ? `${sources.length} ${sources.length === 1 ? "source" : "sources"}.`
          : "No source yet.";
        replace(list, sources.map((source) => sourceOf(source, admin, issued)));
      },
      (error) => {
        status.textContent = "";
        replace(list, h("p", { role: "alert", class: "error" }, error.message));
      },
    );
  const issued = (answer) => {
    replace(key, shownOnce(answer, () => replace(key)));
    if (key.firstChild) key.querySelector("h2").focus();
    load();
  };
  replace(
    view,
    h("h1", {}, "Sources and keys"),
    h(
      "p",
      { class: "help" },
      "Each website, app, server or tool sends with write keys of its own. Keys are kept only as hashes: a key is shown once, when it is made.",
    ),
    key,
    admin ? creator(issued) : null,
    status,
    list,
  );
  load();
  return { title: "Sources and keys" };
}

function sourceOf(source, admin, issued) {
  const said = h("div", { role: "alert" });
  const act = (button, path, body) => {
    button.disabled = true;
    replace(said);
    return send("POST", `sources/${source.name}/${path}`, body).then(
      (answer) => {
        button.disabled = false;
        issued(answer);
      },
      (error) => {
        button.disabled = false;
        replace(said, h("p", { class: "error" }, error.message));
      },
    );
  };
  const hours = (name, value, label) =>
    field(null, null, label, input({ type: "number", name, value, min: 0, max: 720, class: "short" }));
  const overlap = hours("overlap_hours", 24, "Old keys keep working for (hours)");
  const lifetime = hours("expires_hours", 24, "Stops after (hours)");
  const rotate = h("button", { type: "button" }, `Rotate the write key of ${source.name}`);
  rotate.addEventListener("click", () =>
    act(rotate, "rotate", { overlap_hours: Number(overlap.querySelector("input").value) }),
  );
  const temporary = h("button", { type: "button", class: "secondary" }, "Issue a temporary key");
  temporary.addEventListener("click", () =>
    act(temporary, "keys", { expires_hours: Number(lifetime.querySelector("input").value) }),
  );
  const disable = h("button", { type: "button", class: "danger" }, `Disable ${source.name}`);
  disable.addEventListener("click", () => {
    if (!confirm(`Disable ${source.name}? Every one of its keys stops at once.`)) return;
    disable.disabled = true;
    send("POST", `sources/${source.name}/disable`).then(
      () => issued(null),
      (error) => {
        disable.disabled = false;
        replace(said, h("p", { class: "error" }, error.message));
      },
    );
  });
  const id = `source-${source.name}`;
  return h(
    "section",
    { class: "part source", "aria-labelledby": id },
    h(
      "h2",
      { id },
      source.name,
      " ",
      h("span", { class: "kind" }, source.kind),
      source.disabled ? [" ", h("span", { class: "badge warn" }, "disabled")] : null,
    ),
    source.description ? h("p", {}, source.description) : null,
    h(
      "p",
      { class: "help" },
      `May say traits are ${source.claims.join(", ")}. Created `,
      time(source.created_at),
      source.disabled ? [", disabled ", time(source.disabled)] : null,
      ".",
    ),
    table(
      `Keys of ${source.name}`,
      ["Key id", "Purpose", "Created", "State", "Stops"],
      source.keys.map((entry) => [
        h("code", {}, entry.key_id),
        entry.purpose,
        time(entry.created_at),
        h("span", { class: `badge ${STATES[entry.state] || ""}` }, entry.state),
        entry.expires_at ? time(entry.expires_at) : h("span", { class: "muted" }, "never"),
      ]),
    ),
    admin && !source.disabled
      ? h(
          "div",
          { class: "actions-group" },
          h("div", { class: "action" }, overlap, rotate),
          h("div", { class: "action" }, lifetime, temporary),
          h("div", { class: "action" }, disable),
        )
      : null,
    said,
  );
}

function creator(issued) {
  const summary = h("div", { role: "alert" });
  const problems = new Problems(summary);
  const name = input({ name: "name", spellcheck: "false" });
  const kind = select(
    KINDS.map((k) => [k, k]),
    "website",
    { name: "kind" },
  );
  const about = input({ name: "description" });
  const declares = h("input", { type: "checkbox", name: "declares" });
  const create = h("button", { type: "submit" }, "Create the source");
  const form = h(
    "form",
    {
      novalidate: true,
      class: "editor",
      onsubmit: (event) => {
        event.preventDefault();
        const wanted = { name: name.value.trim(), kind: kind.value, declares: declares.checked };
        if (about.value.trim()) wanted.description = about.value.trim();
        if (!/^[a-z][a-z0-9-]{0,63}$/.test(wanted.name)) {
          return problems.show("The source was not created.", {
            name: "a lowercase letter, then lowercase letters, digits and - (64 at most)",
          });
        }
        problems.clear();
        create.disabled = true;
        send("POST", "sources", wanted).then(
          (answer) => {
            create.disabled = false;
            form.reset();
            issued(answer);
          },
          (error) => {
            create.disabled = false;
            problems.show(`The source was not created: ${error.message}`, error.fields || {});
          },
        );
      },
    },
    summary,
    field(problems, "name", "Name", name, "Such as shop-web: lowercase letters, digits and -."),
    field(problems, "kind", "Kind", kind, "A website's or app's key is public: its events are observed, never declared."),
    field(problems, "description", "Description", about, "Optional."),
    field(
      problems,
      "declares",
      "Its messages may say what a person declared (your own back end's preference pages; never a website or app)",
      declares,
    ),
    create,
  );
  return h(
    "section",
    { class: "part", "aria-labelledby": "create-heading" },
    h("h2", { id: "create-heading" }, "Create a source"),
    form,
  );
}

// A new key, shown this once: the key with a copy button, and how to send with it.
function shownOnce(answer, done) {
  if (!answer || !answer.write_key) return null;
  const { source, write_key: key } = answer;
  const snippet =
    source.kind === "website" ? installSnippet(key, location.origin) : null;
  const close = h("button", { type: "button", class: "secondary", onclick: done }, "Done: I copied it");
  return h(
    "section",
    { class: "new-key", "aria-labelledby": "key-heading" },
    h("h2", { id: "key-heading", tabindex: "-1" }, `New write key for ${source.name}`),
    h(
      "p",
      {},
      h("strong", {}, "Copy it now: it is shown this once."),
      " Only its hash is kept; if it is lost, rotate the key.",
    ),
    copyable("Write key", key),
    snippet
      ? [
          h("p", {}, "Paste this into every page of the site:"),
          copyable("Install snippet", snippet, true),
        ]
      : h(
          "p",
          {},
          `Send with any Segment or RudderStack library: the write key above, host ${location.origin}.`,
        ),
    close,
  );
}

function copyable(label, text, block = false) {
  const said = h("span", { role: "status", class: "status" });
  const shown = h(block ? "pre" : "code", { class: block ? "json snippet" : "key" }, text);
  const copy = h("button", { type: "button", class: "secondary" }, `Copy the ${label.toLowerCase()}`);
  copy.addEventListener("click", () => {
    const clipboard = navigator.clipboard;
    (clipboard ? clipboard.writeText(text) : Promise.reject()).then(
      () => (said.textContent = "Copied."),
      () => {
        getSelection().selectAllChildren(shown);
        said.textContent = "Selected: press Ctrl+C (⌘C) to copy.";
      },
    );
  });
  return h("div", { class: "copyable" }, h("p", { class: "label" }, label), shown, h("p", {}, copy, " ", said));
}
