// /console/forms: the progressive forms; /console/forms/{id}: one form's questions, each with
// the purpose it is asked for (the reason the person is shown), and its consent.
import { ApiError, get, send } from "./api.js";
import { facts, h, replace, table } from "./dom.js";
import { count } from "./format.js";

const formPath = (id) => `/console/forms/${encodeURIComponent(id)}`;

export function formsView(view) {
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
      replace(list, h("p", { role: "alert", class: "error" }, error.message));
    },
  );
  return { title: "Forms" };
}

export function formView(view, { match, session, navigate }) {
  const id = decodeURIComponent(match[1]);
  const heading = h("h1", {}, "Form");
  const status = h("p", { role: "status", class: "status" }, "Loading the form…");
  const body = h("div");
  replace(view, heading, status, body);
  // Answer rates: the share of profiles holding each declared trait (the overview's sample).
  const rates = get("overview").then(
    ({ profiles }) => profiles,
    () => null,
  );
  Promise.all([get(`forms/${encodeURIComponent(id)}`), rates]).then(
    ([form, profiles]) => {
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
        h(
          "section",
          { class: "part", "aria-labelledby": "questions-heading" },
          h("h2", { id: "questions-heading" }, "Questions, in the order they are asked"),
          h(
            "ol",
            { class: "questions" },
            form.fields.map((field) => question(field, profiles)),
          ),
        ),
        h(
          "section",
          { class: "part", "aria-labelledby": "consent-heading" },
          h("h2", { id: "consent-heading" }, "Consent"),
          form.consent_purposes.length
            ? [
                h("p", {}, `Asks for: ${form.consent_purposes.join(", ")}.`),
                form.consent_text ? h("blockquote", {}, form.consent_text) : null,
              ]
            : h("p", { class: "muted" }, "This form asks for no consent."),
        ),
        session.abilities.includes("edit_forms") ? remover(form, navigate) : null,
      );
    },
    (error) => {
      if (error instanceof ApiError && error.status === 404) heading.textContent = "No such form";
      status.textContent = "";
      replace(body, h("p", { role: "alert", class: "error" }, error.message));
    },
  );
  return { title: "Form" };
}

function question(field, profiles) {
  return h(
    "li",
    { class: "question" },
    h("h3", {}, field.label),
    facts([
      ["Fills the trait", h("code", {}, field.trait)],
      ["Answer", `${field.type}${field.required ? ", required" : ", optional"}`],
      field.options ? ["Options", field.options.join(", ")] : null,
      ["Why we ask (shown with the question)", field.purpose || h("span", { class: "muted" }, "—")],
      [
        "Asked again",
        field.valid_days ? `after ${count(field.valid_days, "day")}` : "never: the answer stays",
      ],
      profiles ? ["Answered by", answered(profiles, field.trait)] : null,
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

function remover(form, navigate) {
  const said = h("div", { role: "alert" });
  const button = h("button", { type: "button", class: "danger" }, "Delete this form");
  button.addEventListener("click", () => {
    if (!confirm(`Delete the form “${form.name}”? Pages that ask it stop showing questions.`))
      return;
    button.disabled = true;
    send("DELETE", `forms/${encodeURIComponent(form.id)}`).then(
      () => navigate("/console/forms"),
      (error) => {
        button.disabled = false;
        replace(said, h("p", { class: "error" }, error.message));
      },
    );
  });
  return h(
    "section",
    { class: "part", "aria-labelledby": "delete-heading" },
    h("h2", { id: "delete-heading" }, "Delete the form"),
    button,
    said,
  );
}
