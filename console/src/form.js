// Forms: labelled fields with their help and their error, and the errors of an answer shown
// next to the fields they belong to (those that belong to none, in the form's summary); and
// what the editors of definitions (segments, forms) share: whether an id is taken, delete.
import { ApiError, get, send } from "./api.js";
import { h, replace } from "./dom.js";
import { placeOf } from "./rules.js";

let made = 0;
export const uid = (prefix) => `${prefix}-${++made}`;

/** A labelled control; `key` is the path of the definition it edits, where errors are shown. */
export function field(problems, key, label, control, help) {
  control.id ||= uid("field");
  const error = h("p", { class: "field-error", id: `${control.id}-error` });
  const helpText = help ? h("p", { class: "help", id: `${control.id}-help` }, help) : null;
  control.setAttribute(
    "aria-describedby",
    [helpText && helpText.id, error.id].filter(Boolean).join(" "),
  );
  if (problems && key) problems.slot(key, control, error);
  const box = control.type === "checkbox";
  return h(
    "div",
    { class: box ? "field check" : "field" },
    box ? [control, " ", h("label", { for: control.id }, label)] : [h("label", { for: control.id }, label), control],
    helpText,
    error,
  );
}

export const input = (attributes) => h("input", { type: "text", autocomplete: "off", ...attributes });

export function select(options, selected, attributes = {}) {
  return h(
    "select",
    attributes,
    options.map(([value, label]) => h("option", { value, selected: value === selected }, label)),
  );
}

export class Problems {
  /** `summary` is where the count and anything not placed by a field is said (an alert). */
  constructor(summary) {
    this.summary = summary;
    this.slots = new Map();
  }

  slot(key, control, error) {
    this.slots.set(key, { control, error });
  }

  /** Forget the places under `prefix` (a part of the form drawn again). */
  drop(prefix) {
    for (const key of [...this.slots.keys()])
      if (key === prefix || key.startsWith(`${prefix}.`)) this.slots.delete(key);
  }

  clear() {
    replace(this.summary);
    for (const { control, error } of this.slots.values()) {
      error.textContent = "";
      control.removeAttribute("aria-invalid");
    }
  }

  /** Shows `fields` ({path: message}) by their fields, and `message` above; answers how many. */
  show(message, fields = {}) {
    this.clear();
    const loose = [];
    let first = null;
    const entries = Object.entries(fields || {});
    for (const [path, text] of entries) {
      const place = placeOf(path, this.slots.keys());
      if (!place) {
        loose.push(`${path}: ${text}`);
        continue;
      }
      const { control, error } = this.slots.get(place);
      error.textContent = error.textContent ? `${error.textContent}; ${text}` : String(text);
      control.setAttribute("aria-invalid", "true");
      // the first in the page's order, where the person starts reading
      if (!first || first.compareDocumentPosition(control) & Node.DOCUMENT_POSITION_PRECEDING)
        first = control;
    }
    const placed = entries.length - loose.length;
    replace(
      this.summary,
      h(
        "div",
        { class: "problems" },
        h("p", { class: "error" }, message),
        placed ? h("p", {}, `${placed === 1 ? "One problem is" : `${placed} problems are`} shown next to ${placed === 1 ? "its field" : "their fields"}.`) : null,
        loose.length ? h("ul", {}, loose.map((text) => h("li", {}, text))) : null,
      ),
    );
    if (first) first.focus();
    return entries.length;
  }
}

/** Whether the definition at `path` of the API exists (a new one must not replace it). */
export function exists(path) {
  return get(path).then(
    () => true,
    (error) => {
      if (error instanceof ApiError && error.status === 404) return false;
      throw error;
    },
  );
}

/**
 * The submit handler of an editor of `kind` ("form", "segment") kept under `collection`
 * ("forms", "segments"): checks `definition()` (answers [wanted, found problems]), refuses an
 * id already taken when the thing is new (`isNew`), puts it and calls `saved(id)`; the
 * platform's refusals are shown by `problems` next to their fields.
 */
export function saveOnSubmit({ kind, collection, isNew, definition, problems, save, saved }) {
  const notSaved = `The ${kind} was not saved`;
  return async (event) => {
    event.preventDefault();
    const [wanted, found] = definition();
    if (Object.keys(found).length) return problems.show(`${notSaved}.`, found);
    problems.clear();
    save.disabled = true;
    try {
      if (isNew && (await exists(`${collection}/${wanted.id}`))) {
        save.disabled = false;
        return problems.show(`${notSaved}.`, { id: `a ${kind} with this id exists; choose another` });
      }
      await send("PUT", `${collection}/${wanted.id}`, wanted);
      saved(wanted.id);
    } catch (error) {
      save.disabled = false;
      problems.show(`${notSaved}: ${error.message}`, error.fields || {});
    }
  };
}

/** A button that deletes `path` of the API once `question` is confirmed, then calls `done`. */
export function deleter(label, question, path, done) {
  const said = h("div", { role: "alert" });
  const button = h("button", { type: "button", class: "danger" }, label);
  button.addEventListener("click", () => {
    if (!confirm(question)) return;
    button.disabled = true;
    send("DELETE", path).then(done, (error) => {
      button.disabled = false;
      replace(said, h("p", { class: "error" }, error.message));
    });
  });
  return [button, said];
}
