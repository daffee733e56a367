// /console/forms: the progressive forms; /console/forms/{id}: one form's questions, each with
// the purpose it is asked for (the reason the person is shown), and its consent; for editors
// the form that changes it (a row per question, the deployment's purposes as checkboxes) and
// delete; /console/forms/new.
import { ApiError, get } from "./api.js";
import { facts, h, part, replace, table } from "./dom.js";
import { count } from "./format.js";
import { deleter, field, input, Problems, saveOnSubmit, select, uid } from "./form.js";

const ID = /^[a-z][a-z0-9_-]{0,63}$/;
const TRAIT = /^[a-z][a-z0-9_]{0,63}$/;
const TYPES = [
  ["text", "text"],
  ["number", "a number"],
  ["boolean", "yes or no"],
  ["select", "one of some options"],
  ["multiselect", "any of some options"],
  ["email", "an e-mail address"],
  ["date", "a date"],
];
const CHOICES = new Set(["select", "multiselect"]);
const formPath = (id) => `/console/forms/${encodeURIComponent(id)}`;
const may = (session) => session.abilities.includes("edit_forms");
const problem = (message) => h("p", { role: "alert", class: "error" }, message);

export function formsView(view, { session }) {
  const status = h("p", { role: "status", class: "status" }, "Loading the forms…");
  const list = h("div");
  replace(
    view,
    h("h1", {}, "Forms"),
    h(
      "p",
      { class: "help" },
      "Progressive forms ask a few questions at a time, each with why it is asked; answers are declared traits.",
    ),
    may(session) ? h("p", {}, h("a", { class: "button", href: "/console/forms/new" }, "New form")) : null,
    status,
    list,
  );
  get("forms").then(
    ({ forms }) => {
      status.textContent = forms.length ? `${count(forms.length, "form")}.` : "No form yet.";
      if (!forms.length) return;
      replace(
        list,
        table(
          "Forms",
          ["Form", "Id", "Questions", "Asked at a time", "Consent asked for"],
          forms.map((form) => [
            h("a", { href: formPath(form.id) }, form.name),
            h("code", {}, form.id),
            count(form.fields.length, "question"),
            String(form.questions_per_step),
            form.consent_purposes.length ? form.consent_purposes.join(", ") : "none",
          ]),
        ),
      );
    },
    (error) => {
      status.textContent = "";
      replace(list, problem(error.message));
    },
  );
  return { title: "Forms" };
}

export function formView(view, { match, session, navigate }) {
  const id = decodeURIComponent(match[1]);
  const creating = id === "new";
  // The deployment's purposes come with the session (null from a platform that does not say them).
  const purposes = Array.isArray(session.purposes) ? session.purposes : null;
  if (creating) {
    replace(
      view,
      h("h1", {}, "New form"),
      may(session) ? editor(null, purposes, navigate) : problem(`A ${session.role} may not create forms.`),
    );
    return { title: "New form" };
  }
  const heading = h("h1", {}, "Form");
  const status = h("p", { role: "status", class: "status" }, "Loading the form…");
  const body = h("div");
  replace(view, heading, status, body);
  // The overview's profile figures: the share of profiles holding each declared trait (the
  // answer rates).
  const profiles = get("overview").then(
    (answer) => answer.profiles,
    () => null,
  );
  Promise.all([get(`forms/${encodeURIComponent(id)}`), profiles]).then(
    ([form, figures]) => {
      heading.textContent = `Form: ${form.name}`;
      document.title = `${form.name} · CDP console`;
      status.textContent = "";
      replace(
        body,
        facts(
          [
            ["Id", h("code", {}, form.id)],
            ["Questions", String(form.fields.length)],
            ["Asked at a time", String(form.questions_per_step)],
            ["Consent version", form.consent_version],
          ],
          { className: "summary" },
        ),
        part(
          "questions",
          "Questions, in the order they are asked",
          h(
            "ol",
            { class: "questions" },
            form.fields.map((asked) => question(asked, figures)),
          ),
        ),
        part(
          "consent",
          "Consent",
          form.consent_purposes.length
            ? [
                h("p", {}, `Asks for: ${form.consent_purposes.join(", ")}.`),
                form.consent_text ? h("blockquote", {}, form.consent_text) : null,
              ]
            : h("p", { class: "muted" }, "This form asks for no consent."),
        ),
        may(session) ? part("edit", "Change the form", editor(form, purposes, navigate)) : null,
        may(session)
          ? part(
              "delete",
              "Delete the form",
              deleter(
                "Delete this form",
                `Delete the form “${form.name}”? Pages that ask it stop showing questions.`,
                `forms/${encodeURIComponent(form.id)}`,
                () => navigate("/console/forms"),
              ),
            )
          : null,
      );
    },
    (error) => {
      if (error instanceof ApiError && error.status === 404) heading.textContent = "No such form";
      status.textContent = "";
      replace(body, problem(error.message));
    },
  );
  return { title: "Form" };
}

function question(asked, profiles) {
  return h(
    "li",
    { class: "question" },
    h("h3", {}, asked.label),
    facts([
      ["Fills the trait", h("code", {}, asked.trait)],
      ["Answer", `${asked.type}${asked.required ? ", required" : ", optional"}`],
      asked.options ? ["Options", asked.options.join(", ")] : null,
      ["Why we ask (shown with the question)", asked.purpose || h("span", { class: "muted" }, "—")],
      [
        "Asked again",
        asked.valid_days ? `after ${count(asked.valid_days, "day")}` : "never: the answer stays",
      ],
      profiles ? ["Answered by", answered(profiles, asked.trait)] : null,
    ]),
  );
}

function answered(profiles, trait) {
  const share = profiles.declared[trait] ?? 0;
  const percent = `${Math.round(share * 1000) / 10}%`;
  return profiles.complete
    ? `${percent} of ${count(profiles.total, "profile")}`
    : `about ${percent} of profiles (a sample of ${count(profiles.sampled, "profile")})`;
}

// A question as the editor holds it: the texts of its controls.
const row = (asked = {}) => ({
  trait: asked.trait || "",
  label: asked.label || "",
  type: asked.type || "text",
  options: (asked.options || []).join(", "),
  required: Boolean(asked.required),
  purpose: asked.purpose || "",
  validDays: asked.valid_days ? String(asked.valid_days) : "",
  maxLength: asked.max_length, // kept as it is: the editor does not change it
});

// The form that creates or changes a form: its id and name, a row per question (added,
// removed, moved up), how many are asked at a time, and the consent it asks for (the
// deployment's `purposes` as checkboxes; null when they could not be read).
function editor(old, purposes, navigate) {
  const summary = h("div", { role: "alert" });
  const problems = new Problems(summary);
  const id = input({ name: "id", value: old ? old.id : "", readonly: old ? true : null, spellcheck: "false" });
  const name = input({ name: "name", value: old ? old.name : "" });
  const rows = (old ? old.fields : [{}]).map(row);
  const list = h("ol", { class: "plain" });
  const listError = h("p", { class: "field-error", id: uid("questions-error") });
  const add = h("button", { type: "button", class: "secondary" }, "Add a question");
  const perStep = input({ type: "number", name: "questions_per_step", min: 1, max: 10, value: String(old ? old.questions_per_step : 2) });
  const chosen = old ? old.consent_purposes : [];
  const offered = [...new Set([...(purposes || []), ...chosen])];
  const boxes = offered.map((purpose) =>
    h("input", { type: "checkbox", name: "consent_purposes", value: purpose, checked: chosen.includes(purpose) }),
  );
  const purposesError = h("p", { class: "field-error", id: uid("purposes-error") });
  const consentText = h("textarea", { name: "consent_text", rows: 2 });
  consentText.value = old && old.consent_text ? old.consent_text : "";
  const version = input({ name: "consent_version", value: old ? old.consent_version : "1" });
  const save = h("button", { type: "submit" }, old ? "Save changes" : "Create the form");

  const draw = (focus) => {
    problems.drop("fields");
    replace(list, rows.map((asked, index) => questionRow(asked, index)));
    problems.slot("fields", list.querySelector("input") || add, listError);
    if (focus) focus.focus();
  };
  add.addEventListener("click", () => {
    rows.push(row());
    draw();
    list.querySelector(".asked:last-child input").focus();
  });

  const questionRow = (asked, index) => {
    const at = `fields.${index}`;
    const number = index + 1;
    const trait = input({ value: asked.trait, spellcheck: "false" });
    const label = input({ value: asked.label });
    const type = select(TYPES, asked.type);
    const options = input({ value: asked.options });
    const purpose = input({ value: asked.purpose });
    const validDays = input({ type: "number", min: 1, max: 3650, value: asked.validDays });
    const required = h("input", { type: "checkbox", checked: asked.required });
    const error = h("p", { class: "field-error", id: uid("question-error") });
    const optionsField = field(problems, `${at}.options`, "Options", options, "Separated by commas.");
    optionsField.hidden = !CHOICES.has(asked.type);
    trait.addEventListener("input", () => (asked.trait = trait.value));
    label.addEventListener("input", () => (asked.label = label.value));
    type.addEventListener("change", () => {
      asked.type = type.value;
      optionsField.hidden = !CHOICES.has(asked.type);
    });
    options.addEventListener("input", () => (asked.options = options.value));
    purpose.addEventListener("input", () => (asked.purpose = purpose.value));
    validDays.addEventListener("input", () => (asked.validDays = validDays.value));
    required.addEventListener("change", () => (asked.required = required.checked));
    const moveUp = index
      ? h("button", { type: "button", class: "secondary", onclick: () => {
          rows.splice(index - 1, 0, ...rows.splice(index, 1));
          draw();
          list.children[index - 1].querySelector("input").focus();
        } }, `Move question ${number} up`)
      : null;
    const remove = h("button", { type: "button", class: "secondary", onclick: () => {
      rows.splice(index, 1);
      draw(add);
    } }, `Remove question ${number}`);
    const fields = [
      field(problems, `${at}.trait`, "Trait it fills", trait, "Lowercase letters, digits and _; the answer is this declared trait."),
      field(problems, `${at}.label`, "Question", label),
      field(problems, `${at}.type`, "Answer", type),
      optionsField,
      field(problems, `${at}.purpose`, "Why we ask", purpose, "Shown with the question: why it is asked, and what the person gets for it."),
      field(problems, `${at}.valid_days`, "Ask again after (days)", validDays, "Empty: the answer stays and is never asked again."),
      field(problems, `${at}.required`, "An answer is required", required),
    ];
    problems.slot(at, trait, error); // what is wrong with the question as a whole
    return h("li", { class: "asked" },
      h("fieldset", { "aria-describedby": error.id },
        h("legend", {}, `Question ${number}`),
        h("div", { class: "fields" }, fields),
        error,
        h("div", { class: "actions" }, moveUp, remove)));
  };

  const definition = () => {
    const found = {};
    const seen = new Set();
    const fields = rows.map((asked, index) => {
      const at = `fields.${index}`;
      const wanted = {
        trait: asked.trait.trim(),
        label: asked.label.trim(),
        type: asked.type,
        required: asked.required,
        purpose: asked.purpose.trim(),
      };
      if (!TRAIT.test(wanted.trait))
        found[`${at}.trait`] = "a lowercase letter, then lowercase letters, digits or _ (64 at most)";
      else if (seen.has(wanted.trait)) found[`${at}.trait`] = "another question fills this trait";
      seen.add(wanted.trait);
      if (!wanted.label) found[`${at}.label`] = "write the question";
      if (!wanted.purpose) found[`${at}.purpose`] = "say why it is asked: the person reads it";
      if (CHOICES.has(asked.type)) {
        wanted.options = asked.options.split(",").map((option) => option.trim()).filter(Boolean);
        if (!wanted.options.length) found[`${at}.options`] = "give the options, separated by commas";
      }
      if (asked.validDays.trim()) {
        wanted.valid_days = Number(asked.validDays);
        if (!Number.isInteger(wanted.valid_days)) found[`${at}.valid_days`] = "a whole number of days, or empty";
      }
      if (asked.maxLength !== undefined) wanted.max_length = asked.maxLength;
      return wanted;
    });
    const wanted = {
      id: id.value.trim(),
      name: name.value.trim(),
      fields,
      questions_per_step: Number(perStep.value),
      consent_purposes: boxes.filter((box) => box.checked).map((box) => box.value),
      consent_version: version.value.trim(),
    };
    if (consentText.value.trim()) wanted.consent_text = consentText.value.trim();
    if (!ID.test(wanted.id)) found.id = "a lowercase letter, then lowercase letters, digits, - or _ (64 at most)";
    if (!wanted.name) found.name = "give the form a name";
    if (!fields.length) found.fields = "add at least one question";
    if (!Number.isInteger(wanted.questions_per_step)) found.questions_per_step = "a whole number, 1 to 10";
    if (!wanted.consent_version) found.consent_version = "give a version, such as 1";
    return [wanted, found];
  };

  const form = h("form", {
    class: "editor",
    novalidate: true,
    onsubmit: saveOnSubmit({
      kind: "form", collection: "forms", isNew: !old, definition, problems, save,
      saved: (id) => navigate(formPath(id)),
    }),
  },
    summary,
    field(problems, "id", "Form id", id, old ? "The id cannot change." : "Lowercase letters, digits, - and _; pages ask for the form by it."),
    field(problems, "name", "Form name", name),
    h("fieldset", {}, h("legend", {}, "Questions, in the order they are asked"), list, listError, add),
    field(problems, "questions_per_step", "Questions asked at a time", perStep),
    h("fieldset", {},
      h("legend", {}, "Consent the form asks for"),
      boxes.length
        ? boxes.map((box) => field(null, null, box.value, box))
        : h("p", { class: "muted" }, purposes ? "This deployment has no consent purposes." : "The deployment's purposes could not be read: reload the page to choose some."),
      purposesError,
      field(problems, "consent_text", "Consent text", consentText, "What the person agrees to, shown with the checkbox."),
      field(problems, "consent_version", "Consent version", version, "Kept with each consent given through the form: change it when the text changes.")),
    h("div", { class: "actions" }, save),
  );
  problems.slot("consent_purposes", boxes[0] || add, purposesError);
  draw();
  return form;
}
