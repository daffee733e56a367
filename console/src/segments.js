// /console/segments: every segment with its members now and its entries and exits of the last
// 7 days (both in the list's answer); /console/segments/{id}: one segment, its definition, a chart
// of its entries and exits per day (?days=7, 30 or 90), its members (each a link to the
// profile), and for editors the form that changes it, a preview of how many it would match,
// and delete; /console/segments/new.
import { ApiError, get, send } from "./api.js";
import { barChart, PLOT } from "./chart.js";
import { append, facts, h, part, replace, table } from "./dom.js";
import { description } from "./explain.js";
import { CHANGES, changesSummary, divergingBars, number } from "./figures.js";
import { count, profilePath, time } from "./format.js";
import { deleter, field, input, Problems, saveOnSubmit, select } from "./form.js";
import { conditionOf, needsValue, OPERATORS, rulesOf, SUBJECTS } from "./rules.js";

const MEMBERS_PER_PAGE = 50;
const PERIODS = [7, 30, 90]; // days the chart can show
const ID = /^[a-z][a-z0-9_-]{0,63}$/;
const NAMES = {
  profile: ["first_seen", "last_seen", "event_count", "created_at"],
  identity: ["email", "user_id", "anonymous_id", "phone"],
  consent: ["analytics", "marketing", "sharing"],
};
const muted = (text) => h("span", { class: "muted" }, text);
const may = (session) => session.abilities.includes("edit_segments");
const segmentPath = (id) => `/console/segments/${encodeURIComponent(id)}`;

export function segmentsView(view, { session }) {
  const status = h("p", { role: "status", class: "status" }, "Loading the segments…");
  const list = h("div");
  replace(
    view,
    h("h1", {}, "Segments"),
    may(session) ? h("p", {}, h("a", { class: "button", href: "/console/segments/new" }, "New segment")) : null,
    status,
    list,
  );
  get("segments").then(({ segments }) => {
    status.textContent = segments.length
      ? `${count(segments.length, "segment")}.`
      : "No segment is defined yet.";
    if (!segments.length) return;
    replace(
      list,
      table(
        "Segments and their members now",
        ["Segment", "Description", "Members", "Last 7 days", "Evaluation of existing profiles"],
        segments.map(({ segment, members, backfill, last_7_days: week }) => [
          [
            h("a", { href: segmentPath(segment.id) }, segment.name),
            segment.enabled === false ? [" ", h("span", { class: "badge warn" }, "switched off")] : null,
          ],
          segment.description || muted("—"),
          count(members, "member"),
          lastWeek(week),
          backfillText(backfill),
        ]),
      ),
    );
  }, failed(status, list));
  return { title: "Segments" };
}

function backfillText(backfill) {
  if (!backfill) return muted("not started");
  const done = backfill.status === "done";
  return [
    h("span", { class: `badge${done ? " good" : ""}` }, done ? "done" : "running"),
    ` ${count(backfill.evaluated, "profile")} evaluated`,
    done ? "" : `, ${backfill.parts_done} of ${backfill.parts} parts`,
    "; started ",
    time(backfill.started_at),
  ];
}

/** A segment's entries and exits of the last 7 days (today's so far), as the list answers them. */
function lastWeek(week) {
  if (!week) return muted("not available");
  return `${count(week.entries, "entry", "entries")}, ${count(week.exits, "exit")}`;
}

const failed = (status, area) => (error) => {
  status.textContent = "";
  replace(area, h("p", { role: "alert", class: "error" }, error.message));
};

export function segmentView(view, { match, params, session, navigate }) {
  const id = decodeURIComponent(match[1]);
  if (id === "new") {
    replace(
      view,
      h("h1", {}, "New segment"),
      may(session)
        ? editor(null, navigate)
        : h("p", { role: "alert", class: "error" }, `A ${session.role} may not create segments.`),
    );
    return { title: "New segment" };
  }
  const heading = h("h1", {}, "Segment");
  const status = h("p", { role: "status", class: "status" }, "Loading the segment…");
  const body = h("div");
  replace(view, heading, status, body);
  get(`segments/${encodeURIComponent(id)}`).then(({ segment, members, backfill }) => {
    heading.textContent = `Segment: ${segment.name}`;
    document.title = `${segment.name} · CDP console`;
    status.textContent = "";
    replace(
      body,
      facts(
        [
          ["Id", h("code", {}, segment.id)],
          ["Members now", count(members, "member")],
          ["State", segment.enabled === false ? "switched off" : "in force"],
          ["Evaluation of existing profiles", backfillText(backfill)],
        ],
        { className: "summary" },
      ),
      segment.description ? h("p", {}, segment.description) : null,
      part(
        "definition",
        "Who is in it",
        description(segment.condition),
        segment.purpose
          ? h("p", {}, "Only people who granted consent for ", h("strong", {}, segment.purpose), ".")
          : null,
      ),
      part("changes", "Entries and exits per day", changesOf(id, params)),
      part("members", "Members", membersOf(id)),
      may(session) ? part("edit", "Change the segment", editor({ segment }, navigate)) : null,
      may(session)
        ? part(
            "delete",
            "Delete the segment",
            h("p", { class: "help" }, "Its members leave it, and other systems are told."),
            deleter(
              "Delete this segment",
              `Delete the segment “${segment.name}”? Every member leaves it.`,
              `segments/${encodeURIComponent(segment.id)}`,
              () => navigate("/console/segments"),
            ),
          )
        : null,
    );
  }, (error) => {
    if (error instanceof ApiError && error.status === 404) heading.textContent = "No such segment";
    failed(status, body)(error);
  });
  return { title: "Segment" };
}

// Entries above the line, exits below, one bar each per day (UTC), the last day today; the
// period is in the address (?days=), chosen without drawing the rest of the page again.
function changesOf(id, params) {
  const asked = Number(params.get("days"));
  const period = select(
    PERIODS.map((days) => [String(days), `the last ${days} days`]),
    String(PERIODS.includes(asked) ? asked : 30),
    { name: "days" },
  );
  const status = h("p", { role: "status", class: "status" });
  const chart = h("div", { class: "chart" });
  let asking = 0;
  const load = () => {
    const days = Number(period.value);
    const mine = ++asking;
    status.textContent = "Loading the entries and exits…";
    get(`segments/${encodeURIComponent(id)}/changes`, { days }).then(
      (answer) => {
        if (mine !== asking) return; // another period was chosen meanwhile
        status.textContent = "";
        drawChanges(chart, answer.days, days);
      },
      (error) => {
        if (mine !== asking) return;
        status.textContent = "";
        replace(chart, h("p", { role: "alert", class: "error" }, error.message));
      },
    );
  };
  period.addEventListener("change", () => {
    const url = new URL(location.href);
    url.searchParams.set("days", period.value);
    history.replaceState(null, "", url);
    load();
  });
  load();
  return [
    h("div", { class: "filters" }, field(null, null, "Show", period)),
    status,
    chart,
    h("p", { class: "help" }, "Entries are drawn above the line, exits below it; days are UTC, today's so far."),
  ];
}

function drawChanges(chart, days, period) {
  const { above, below, zero, rects } = divergingBars(days, "entries", "exits", PLOT);
  barChart(chart, {
    id: "changes-title",
    className: "events-chart changes-chart",
    summary: changesSummary(days),
    points: days,
    series: CHANGES,
    label: (point) => point.day,
    rects,
    scale: [
      { y: 0, text: number(above) },
      { y: zero, text: "0", base: true },
      { y: PLOT.height, text: number(below) },
    ],
    caption: `Entries and exits per day, the last ${period} days (UTC)`,
    head: "Day",
    tableClass: "per-day",
  });
}

function membersOf(id) {
  const rows = h("tbody");
  const shown = h("table", { hidden: true }, h("caption", {}, "Members, by profile id"),
    h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Profile"), h("th", { scope: "col" }, "Member since"))),
    rows);
  const status = h("p", { role: "status", class: "status" }, "Loading the members…");
  const more = h("button", { type: "button", class: "secondary", hidden: true }, "More members");
  const area = h("div", {}, shown, status, more);
  let cursor = null;
  let total = 0;
  const load = () => {
    more.disabled = true;
    get(`segments/${encodeURIComponent(id)}/members`, { limit: MEMBERS_PER_PAGE, cursor }).then(
      (page) => {
        for (const member of page.members) {
          append(rows, [h("tr", {},
            h("th", { scope: "row" }, h("a", { href: profilePath("profile_id", member.profile_id) }, member.profile_id)),
            h("td", {}, time(member.entered_at)))]);
        }
        total += page.members.length;
        cursor = page.cursor;
        shown.hidden = !total;
        more.hidden = !cursor;
        more.disabled = false;
        status.textContent = total ? `${count(total, "member")} shown${cursor ? "; more exist" : ""}.` : "No members.";
      },
      (error) => {
        more.disabled = false;
        status.textContent = error.message;
      },
    );
  };
  more.addEventListener("click", load);
  load();
  return area;
}

// The form: name, description, purpose, and the condition as rules (or as JSON when it nests
// deeper than one all/any of single conditions).
function editor(existing, navigate) {
  const old = existing ? existing.segment : null;
  const summary = h("div", { role: "alert" });
  const problems = new Problems(summary);
  const id = input({ name: "id", value: old ? old.id : "", readonly: old ? true : null, spellcheck: "false" });
  const name = input({ name: "name", value: old ? old.name : "" });
  const about = h("textarea", { name: "description", rows: 2 });
  about.value = old && old.description ? old.description : "";
  const purpose = input({ name: "purpose", value: old && old.purpose ? old.purpose : "" });
  const enabled = h("input", { type: "checkbox", name: "enabled", checked: !old || old.enabled !== false });
  const state = (old && rulesOf(old.condition)) || { match: "all", rules: old ? null : [blank()] };
  const json = h("textarea", { name: "condition", rows: 8, class: "code", spellcheck: "false" });
  json.value = old ? JSON.stringify(old.condition, null, 2) : "";
  const builder = h("div");
  const builderError = h("p", { class: "field-error", id: "rules-error" });
  const asJson = field(null, null, "Condition (JSON)", json,
    'The condition language: {"all": [{"trait": "plan", "eq": "pro"}, ...]}; all, any and not nest.');
  const toggle = h("button", { type: "button", class: "secondary" });
  const suggestions = h("div");
  const preview = h("p", { role: "status", class: "status preview" });
  const save = h("button", { type: "submit" }, old ? "Save changes" : "Create the segment");
  const previewButton = h("button", { type: "button", class: "secondary" }, "Preview");

  const mode = () => {
    const rules = state.rules !== null;
    builder.hidden = !rules;
    asJson.hidden = rules;
    toggle.textContent = rules ? "Edit the condition as JSON" : "Edit the condition as rules";
    // errors about the whole condition go where it is edited
    if (rules) problems.slot("condition", builder.querySelector("select"), builderError);
    else problems.slot("condition", json, asJson.querySelector(".field-error"));
  };
  toggle.addEventListener("click", () => {
    if (state.rules !== null) {
      const { condition } = conditionOf(state.match, state.rules);
      json.value = JSON.stringify(condition, null, 2);
      state.rules = null;
    } else {
      let parsed = null;
      try {
        parsed = rulesOf(JSON.parse(json.value));
      } catch {
        // said below
      }
      if (!parsed) {
        problems.show("This condition cannot be shown as rules.", { condition: "it nests deeper than all or any of single conditions, or is not JSON" });
        return;
      }
      Object.assign(state, parsed);
      drawRules();
    }
    problems.clear();
    mode();
  });

  const drawRules = () => {
    problems.drop("condition.all");
    problems.drop("condition.any");
    problems.drop("conditions");
    const match = select([["all", "all of these conditions"], ["any", "any of these conditions"]], state.match);
    match.addEventListener("change", () => {
      state.match = match.value;
      drawRules();
      builder.querySelector("select").focus();
    });
    const add = h("button", { type: "button", class: "secondary" }, "Add a condition");
    add.addEventListener("click", () => {
      state.rules.push(blank());
      drawRules();
      builder.querySelector(".rule:last-child select").focus();
    });
    replace(
      builder,
      field(problems, null, "Members match", match),
      h("ol", { class: "rules plain" }, state.rules.map((rule, index) => ruleRow(rule, index))),
      add,
      builderError,
    );
    problems.slot("condition", match, builderError);
  };

  const ruleRow = (rule, index) => {
    const at = `condition.${state.match}.${index}`;
    const alias = `conditions.${index}`;
    const number = index + 1;
    const subject = select(SUBJECTS.map((s) => [s, s.replace(/_/g, " ")]), rule.subject);
    const named = input({ value: rule.name, list: `names-${rule.subject}`, spellcheck: "false" });
    const operator = select(Object.entries(OPERATORS), rule.operator);
    const value = input({ value: rule.value, spellcheck: "false" });
    const valueField = field(problems, null, "Value", value,
      'Numbers and true/false are read as such; "quote" text that looks like one. Lists: a, b.');
    const error = h("p", { class: "field-error", id: `${at}-error` });
    const row = h("li", { class: "rule" },
      h("fieldset", { "aria-describedby": error.id },
        h("legend", {}, `Condition ${number}`),
        h("div", { class: "fields" },
          field(problems, null, "Subject", subject),
          field(problems, null, "Name", named),
          field(problems, null, "Operator", operator),
          valueField),
        error,
        h("button", { type: "button", class: "secondary remove", onclick: () => {
          state.rules.splice(index, 1);
          drawRules();
          builder.querySelector(".rules + button").focus();
        } }, `Remove condition ${number}`)));
    const slots = () => {
      // where the platform's errors about this rule go (its keys follow subject and operator)
      problems.drop(at);
      problems.slot(at, subject, error);
      problems.slot(alias, subject, error);
      const nameError = named.parentElement.querySelector(".field-error");
      const valueError = value.parentElement.querySelector(".field-error");
      problems.slot(`${at}.${rule.subject}`, named, nameError);
      problems.slot(`${alias}.name`, named, nameError);
      problems.slot(`${at}.${rule.operator === "missing" ? "exists" : rule.operator}`, value, valueError);
      problems.slot(`${alias}.value`, value, valueError);
      problems.slot(`${alias}.operator`, operator, valueError);
      valueField.hidden = !needsValue(rule.operator);
    };
    subject.addEventListener("change", () => {
      rule.subject = subject.value;
      named.setAttribute("list", `names-${rule.subject}`);
      slots();
    });
    operator.addEventListener("change", () => {
      rule.operator = operator.value;
      slots();
    });
    named.addEventListener("input", () => (rule.name = named.value));
    value.addEventListener("input", () => (rule.value = value.value));
    slots();
    return row;
  };

  const definition = () => {
    let condition;
    let found = {};
    if (state.rules !== null) ({ condition, problems: found } = conditionOf(state.match, state.rules));
    else {
      try {
        condition = JSON.parse(json.value);
      } catch {
        found.condition = "is not JSON";
      }
    }
    const wanted = {
      id: id.value.trim(),
      name: name.value.trim(),
      condition,
      enabled: enabled.checked,
    };
    if (about.value.trim()) wanted.description = about.value.trim();
    if (purpose.value.trim()) wanted.purpose = purpose.value.trim();
    if (!ID.test(wanted.id)) found.id = "a lowercase letter, then lowercase letters, digits, - or _ (64 at most)";
    if (!wanted.name) found.name = "give the segment a name";
    return [wanted, found];
  };
  const refused = (verb) => (error) => {
    problems.show(`The segment was not ${verb}: ${error.message}`, error.fields || {});
  };

  previewButton.addEventListener("click", () => {
    const [wanted, found] = definition();
    delete found.id; // a new segment is previewed before it has an id
    if (!wanted.id || found.id) wanted.id = "preview";
    if (Object.keys(found).length) return problems.show("Fix these to preview the segment.", found);
    problems.clear();
    previewButton.disabled = true;
    preview.textContent = "Counting…";
    send("POST", "segments/preview", wanted).then((answer) => {
      previewButton.disabled = false;
      preview.textContent = answer.complete
        ? `Would match ${count(answer.matched, "profile")}${typeof answer.total === "number" ? ` of ${answer.total.toLocaleString("en")}` : ""} (every profile counted).`
        : `Would match about ${count(answer.estimate, "profile")} (${answer.matched.toLocaleString("en")} of a sample of ${answer.sampled.toLocaleString("en")}).`;
    }, (error) => {
      previewButton.disabled = false;
      preview.textContent = "";
      refused("previewed")(error);
    });
  });

  const form = h("form", {
    class: "editor",
    novalidate: true,
    onsubmit: saveOnSubmit({
      kind: "segment", collection: "segments", isNew: !old, definition, problems, save,
      saved: (id) => navigate(segmentPath(id)),
    }),
  },
    summary,
    field(problems, "id", "Segment id", id, old ? "The id cannot change." : "Lowercase letters, digits, - and _; it names the segment in the API and in events."),
    field(problems, "name", "Segment name", name),
    field(problems, "description", "Description", about, "Optional: what the segment is for."),
    field(problems, "purpose", "Consent purpose", purpose, "Optional: only people who granted this purpose (such as marketing) can be members."),
    field(problems, "enabled", "In force (members are kept up to date)", enabled),
    h("fieldset", { class: "condition-editor" }, h("legend", {}, "Who is in it"), builder, asJson, toggle),
    suggestions,
    h("div", { class: "actions" }, previewButton, save),
    preview,
  );
  if (state.rules !== null) drawRules();
  mode();
  names(suggestions);
  return form;
}

const blank = () => ({ subject: "trait", name: "", operator: "eq", value: "" });

// Names to offer in each rule's name field (the computed traits and segments there are).
function names(area) {
  const lists = {};
  for (const subject of SUBJECTS) {
    lists[subject] = h("datalist", { id: `names-${subject}` }, (NAMES[subject] || []).map((value) => h("option", { value })));
  }
  append(area, Object.values(lists));
  get("computed-traits").then(({ computed_traits: traits }) => {
    for (const trait of traits) {
      append(lists.computed, [h("option", { value: trait.id }), (trait.windows || []).map((days) => h("option", { value: `${trait.id}_${days}d` }))]);
    }
  }, () => null);
  get("segments").then(({ segments }) => {
    append(lists.segment, segments.map(({ segment }) => h("option", { value: segment.id })));
  }, () => null);
}
