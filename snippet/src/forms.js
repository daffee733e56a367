// Progressive forms in the page (cdp-forms.js, loaded by the tracker when a page first uses
// them): ask the API for the next questions, show each with the reason it is asked, and send
// the answers. Plain HTML with `cdp-` classes, styled by the site; or bind an existing
// <form data-cdp-form="id"> whose inputs say `data-cdp-trait` (and `data-cdp-type`).

const el = (tag, props = {}, ...children) => {
  const node = Object.assign(document.createElement(tag), props);
  node.append(...children.filter((c) => c != null));
  return node;
};

function input(q) {
  const name = q.trait;
  if (q.type == "select" || q.type == "multiselect") {
    const select = el("select", { name, multiple: q.type == "multiselect", required: q.required });
    if (q.type == "select") select.append(el("option", { value: "" }, "—"));
    for (const option of q.options) select.append(el("option", { value: option }, option));
    return select;
  }
  if (q.type == "boolean") return el("input", { name, type: "checkbox" });
  const types = { number: "number", email: "email", date: "date" };
  return el("input", { name, type: types[q.type] || "text", required: q.required });
}

/** The answers of a form's fields, typed as the API expects them. */
export function answersOf(form, questions) {
  const answers = {};
  for (const q of questions) {
    const field = form.elements[q.trait];
    if (!field) continue;
    answers[q.trait] =
      q.type == "boolean"
        ? field.checked
        : q.type == "number"
          ? field.value === "" ? null : Number(field.value)
          : q.type == "multiselect"
            ? [...field.selectedOptions].map((o) => o.value)
            : field.value;
  }
  return answers;
}

/** Renders questions (and the consent the form asks for) into `container`. */
export function render(container, next, onSubmit, thanks = "Thank you!") {
  container.replaceChildren();
  if (!next.questions.length) return container.append(el("p", { className: "cdp-done" }, thanks));
  const form = el("form", { className: "cdp-form" });
  for (const q of next.questions) {
    form.append(
      el(
        "label",
        { className: "cdp-question" },
        el("span", { className: "cdp-label" }, q.label),
        input(q),
        el("small", { className: "cdp-purpose" }, q.purpose),
      ),
    );
  }
  const consent = next.consent || {};
  for (const purpose of consent.purposes || []) {
    const box = el("input", { type: "checkbox", name: "consent:" + purpose });
    box.checked = consent.current?.[purpose]?.state == "granted";
    form.append(el("label", { className: "cdp-consent" }, box, " " + purpose));
  }
  if (consent.text) form.append(el("p", { className: "cdp-consent-text" }, consent.text));
  const errors = el("p", { className: "cdp-errors", role: "alert" });
  form.append(errors, el("button", { type: "submit" }, "Send"));
  form.onsubmit = (e) => {
    e.preventDefault();
    const choices = {};
    for (const purpose of consent.purposes || []) {
      choices[purpose] = form.elements["consent:" + purpose].checked;
    }
    onSubmit(answersOf(form, next.questions), choices, (problems) => {
      errors.textContent = Object.entries(problems)
        .map(([field, problem]) => `${field}: ${problem}`)
        .join("; ");
    });
  };
  container.append(form);
}

/** Asks the next questions of `formId` in `container` (an element or a selector). */
export async function ask(cdp, formId, container, settings = {}) {
  const target =
    typeof container == "string" ? cdp.win.document.querySelector(container) : container;
  if (!target) return;
  const query = new URLSearchParams({ writeKey: cdp.writeKey(), ...cdp.who() });
  const response = await cdp.fetch(cdp.url(`/v1/forms/${formId}/next?${query}`));
  if (!response.ok) return;
  const show = (next) =>
    render(target, next, submitter(cdp, formId, show, settings.onAnswer), settings.thanks);
  show(await response.json());
}

/** Sends an existing form's answers when it is submitted. */
export function bind(cdp, form, formId) {
  const target = typeof form == "string" ? cdp.win.document.querySelector(form) : form;
  if (!target) return;
  const questions = [...target.querySelectorAll("[data-cdp-trait]")].map((field) => ({
    trait: field.dataset.cdpTrait,
    type: field.dataset.cdpType || (field.type == "checkbox" ? "boolean" : "text"),
  }));
  target.addEventListener("submit", (e) => {
    e.preventDefault();
    const send = submitter(cdp, formId || target.dataset.cdpForm, () => {}, () => {});
    send(answersOf(target, questions), {}, () => {});
  });
}

// What this page has answered already (the profile learns of it a moment later).
const answered = new Set();

function submitter(cdp, formId, show, onAnswer) {
  return async (answers, choices, showProblems) => {
    const body = {
      writeKey: cdp.writeKey(),
      ...cdp.who(),
      answers,
      answered: [...answered],
      consent: choices,
      // The same id and time on a retry: the answers are stored once.
      submissionId: crypto.randomUUID?.() || String(Math.random()).slice(2),
      timestamp: new Date().toISOString(),
    };
    const response = await cdp.fetch(cdp.url(`/v1/forms/${formId}/submissions`), {
      method: "POST",
      headers: { "Content-Type": "text/plain" },
      body: JSON.stringify(body),
    });
    const result = await response.json();
    if (!response.ok) return showProblems(result.fields || { form: result.message });
    for (const trait of Object.keys(answers)) answered.add(trait);
    if (Object.keys(choices).length) cdp.consented(choices);
    onAnswer?.(answers);
    show({ questions: result.next });
  };
}
