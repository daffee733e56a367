// /console: the overview. How much arrives and what becomes of it (the functions' own metrics:
// per minute over the last hour, and totals for the hour and the day), and what the profiles
// are like (a sample of them: how many, the share identified, consent per purpose now and the
// share granted at the end of each of the last 12 weeks, from their consent histories). Asked for
// again every 30 s while the tab is visible; the page is built once and its figures updated
// in place, so that focus and an opened explanation stay where they are.
import { get } from "./api.js";
import { barChart, lineCharts, PLOT, SMALL, svg } from "./chart.js";
import { h, replace } from "./dom.js";
import {
  chartSummary,
  clock,
  consentSource,
  consentSummary,
  day,
  number,
  percent,
  shareLines,
  shareOf,
  stackedBars,
} from "./figures.js";

const REFRESH_MS = 30_000;
const SERIES = [
  ["stored", "Stored"],
  ["not_stored", "Not stored"],
  ["refused", "Refused"],
];
const DECISIONS = [
  ["granted", "Granted"],
  ["denied", "Denied"],
  ["unknown", "No decision"],
];

export function overviewView(view) {
  const status = h("p", { role: "status", class: "status" }, "Loading the overview…");
  const updated = h("p", { class: "status updated" });
  const problem = h("div", { role: "alert" });
  const figures = {
    storedHour: card("Stored in the last hour"),
    storedDay: card("Stored in the last day"),
    refused: card(
      "Refused in the last day",
      "Messages the collector turned down (no id, too large, not valid), each kept with its reason.",
      h("a", { href: "/console/live" }, "See each and why in Live events"),
    ),
    failed: card(
      "Failed in the last day",
      "Stored events the profile builder could not apply to a profile, and profile changes the publisher could not share with destinations.",
      h(
        "details",
        { class: "explain" },
        h("summary", {}, "What happens to them"),
        h(
          "p",
          {},
          "Nothing is lost: they wait in a failure queue. Once the cause is fixed and deployed, ",
          h("code", {}, "cdp redrive"),
          " gives them back to be applied or shared again, once each.",
        ),
      ),
    ),
    profiles: card(
      "Profiles",
      null,
      h("a", { href: "/console/profiles" }, "Find a profile"),
    ),
    identified: card(
      "Identified",
      "Profiles with a user id or an e-mail address, not only anonymous ids.",
    ),
  };
  const chart = h("div", { class: "chart" });
  const consent = h("div", { class: "consent" });
  const weeks = h("div", { class: "chart" });
  const weeksSource = h("p", { class: "help" });
  const events = h("div");
  replace(
    view,
    h("h1", {}, "Overview"),
    h(
      "p",
      { class: "help" },
      "What arrives and what becomes of it, and what the profiles are like. The figures are asked for again every 30 seconds while this tab is open.",
    ),
    status,
    problem,
    h(
      "section",
      { "aria-labelledby": "events-heading" },
      h("h2", { id: "events-heading" }, "Events"),
      events,
      h(
        "ul",
        { class: "cards" },
        [figures.storedHour, figures.storedDay, figures.refused, figures.failed].map(
          (figure) => figure.node,
        ),
      ),
      h("h3", { id: "chart-heading" }, "Events per minute, the last hour"),
      chart,
    ),
    h(
      "section",
      { "aria-labelledby": "profiles-heading" },
      h("h2", { id: "profiles-heading" }, "Profiles"),
      h("ul", { class: "cards" }, [figures.profiles.node, figures.identified.node]),
      h("h3", { id: "consent-heading" }, "Consent per purpose"),
      consent,
      h("h3", { id: "consent-weeks-heading" }, "Consent granted, by week"),
      weeks,
      weeksSource,
      h(
        "p",
        { class: "help" },
        "Consent is given with events and through forms: ",
        h("a", { href: "/console/forms" }, "see the forms and what they ask for"),
        ".",
      ),
    ),
    updated,
  );

  function draw(answer) {
    status.textContent = "";
    replace(problem);
    updated.textContent = `Figures as of ${clock(answer.at)} UTC.`;
    const sums = answer.events;
    if (sums) {
      replace(events);
      const { last_hour: hour, last_day: day } = sums;
      figures.storedHour.set(number(hour.stored), `and ${number(hour.not_stored)} not stored (no consent for it, or the person was erased)`);
      figures.storedDay.set(number(day.stored), `and ${number(day.not_stored)} not stored`);
      figures.refused.set(number(day.refused));
      figures.failed.set(number(day.failed), `and ${number(day.not_shared ?? 0)} profile changes not shared`);
      drawChart(chart, sums.per_minute);
    } else {
      replace(
        events,
        h(
          "p",
          { class: "notice" },
          "The event figures could not be read: the platform's metrics did not answer. The profile figures below are current; the page tries again in 30 seconds.",
        ),
      );
      for (const figure of [figures.storedHour, figures.storedDay, figures.refused, figures.failed])
        figure.set("—", "not available");
      replace(chart, h("p", { class: "muted" }, "No chart: the event figures could not be read."));
    }
    const people = answer.profiles;
    figures.profiles.set(
      people.complete ? number(people.total) : `about ${number(people.total)}`,
      people.complete
        ? "every profile counted"
        : `estimated; the shares are from a sample of ${number(people.sampled)}`,
    );
    figures.identified.set(
      people.sampled ? percent(people.identified) : "—",
      people.complete ? null : `from a sample of ${number(people.sampled)}`,
    );
    drawConsent(consent, people);
    drawWeeks(weeks, weeksSource, people);
  }

  // Asked for again every 30 s while the tab is visible; when it is hidden, on its return.
  let timer = null;
  let busy = false;
  let asked = 0;
  let drawn = false;
  const alive = () => view.isConnected;
  const stop = () => {
    clearTimeout(timer);
    document.removeEventListener("visibilitychange", visibility);
  };
  const schedule = () => {
    clearTimeout(timer);
    timer = null;
    if (!alive()) return stop();
    if (busy || document.visibilityState !== "visible") return;
    timer = setTimeout(load, Math.max(0, asked + REFRESH_MS - Date.now()));
  };
  function load() {
    timer = null;
    if (!alive()) return stop();
    if (drawn && document.visibilityState !== "visible") return; // asked again on its return
    busy = true;
    asked = Date.now();
    get("overview")
      .then(
        (answer) => {
          if (!alive()) return;
          draw(answer);
          drawn = true;
        },
        (error) => {
          if (!alive()) return;
          status.textContent = "";
          const said = drawn
            ? `The figures could not be brought up to date: ${error.message} They are as of the time below; the page tries again in 30 seconds.`
            : error.message;
          if (problem.textContent !== said) replace(problem, h("p", { class: "error" }, said));
        },
      )
      .finally(() => {
        busy = false;
        schedule();
      });
  }
  const visibility = () => schedule();
  document.addEventListener("visibilitychange", visibility);
  load();
  return { title: "Overview" };
}

/** A figure in a card: its label, the figure, a note under it and what explains it. */
function card(label, about = null, more = null) {
  const figure = h("p", { class: "figure" }, "…");
  const note = h("p", { class: "note" });
  const node = h(
    "li",
    { class: "card" },
    h("h3", { class: "label" }, label),
    figure,
    note,
    about ? h("p", { class: "about" }, about) : null,
    more,
  );
  return {
    node,
    set(value, said = null) {
      figure.textContent = value;
      note.textContent = said || "";
    },
  };
}

/** Stacked bars per minute, a legend, and the figures as a table for screen readers. */
function drawChart(chart, points) {
  const { top, rects } = stackedBars(points, SERIES.map(([key]) => key), PLOT);
  const middle = PLOT.height / 2;
  barChart(chart, {
    id: "chart-title",
    className: "events-chart",
    summary: chartSummary(points, SERIES),
    points,
    series: SERIES,
    label: (point) => clock(point.at),
    rects,
    scale: [
      { y: 0, text: number(top) },
      // the middle line is labelled only with a whole number
      { y: middle, text: Number.isInteger(top / 2) ? number(top / 2) : "" },
      { y: PLOT.height, text: "0", base: true },
    ],
    caption: "Events per minute, the last hour (UTC)",
    head: "Minute",
    tableClass: "per-minute",
  });
}

/** A bar per purpose: the shares granted, denied and unknown, with the percentages as text. */
function drawConsent(consent, people) {
  const purposes = Object.entries(people.consent || {});
  if (!people.sampled || !purposes.length) {
    replace(consent, h("p", { class: "muted" }, "No profile yet, so no consent to show."));
    return;
  }
  replace(
    consent,
    h(
      "ul",
      { class: "rates" },
      purposes.map(([purpose, shares]) => {
        let from = 0;
        const parts = DECISIONS.map(([key]) => {
          const share = Math.max(0, Number(shares[key]) || 0);
          const part = svg("rect", { class: `part ${key}`, x: from * 100, y: 0, width: share * 100, height: 10 });
          from += share;
          return part;
        });
        return h(
          "li",
          { class: "rate" },
          h("span", { class: "purpose" }, purpose),
          svg(
            "svg",
            { class: "rate-bar", viewBox: "0 0 100 10", preserveAspectRatio: "none", "aria-hidden": "true" },
            parts,
          ),
          h(
            "span",
            { class: "shares" },
            DECISIONS.map(([key, name], index) => [
              index ? " · " : "",
              h("span", { class: `share ${key}` }, `${name} ${percent(shares[key])}`),
            ]),
          ),
        );
      }),
    ),
    h(
      "p",
      { class: "help" },
      people.complete
        ? `Of all ${number(people.sampled)} profiles.`
        : `From a sample of ${number(people.sampled)} profiles.`,
    ),
  );
}

/**
 * The share granted per purpose at the end of each of the last 12 weeks: a small chart per
 * purpose, named and with its share now, and the figures as a table; beneath, what it is read from.
 */
function drawWeeks(area, source, people) {
  const weeks = people.consent_by_week || [];
  const purposes = Object.keys(people.consent || {});
  if (!people.sampled || !purposes.length || !weeks.length) {
    const why = weeks.length || !people.sampled ? "No profile yet, so no consent to chart." : "No weekly figures came with the overview.";
    replace(area, h("p", { class: "muted" }, why));
    source.textContent = "";
    return;
  }
  lineCharts(area, {
    id: "consent-weeks-title",
    className: "consent-chart",
    summary: consentSummary(weeks, purposes),
    points: weeks,
    series: purposes.map((purpose) => [purpose, purpose]),
    columns: [["profiles", "Profiles seen"], ...purposes.map((purpose) => [purpose, `${purpose} granted`])],
    label: (week) => day(week.until),
    lines: shareLines(weeks, purposes, SMALL),
    end: (line) => (line.dots.length ? `${percent(line.dots[line.dots.length - 1].share)} now` : "no profile yet"),
    scale: [
      { y: 0, text: "100%" },
      { y: SMALL.height / 2, text: "50%" },
      { y: SMALL.height, text: "0%", base: true },
    ],
    cell: (week, key) =>
      key === "profiles"
        ? number(week.profiles)
        : Number(week.profiles) > 0
          ? percent(shareOf(week, key))
          : "no profiles",
    caption: "Consent granted per purpose, at the end of each week (UTC)",
    head: "Week to",
    tableClass: "per-week",
  });
  source.textContent = consentSource(people);
}
