// The charts' arithmetic, apart from the page so that it can be tested without a browser:
// shares as percentages, the scale and bars of the overview's events per minute (stacked) and
// of a segment's entries and exits per day (entries above the line, exits below), the lines of
// the overview's consent granted by week, and each chart said in words.

/** 0.4999 -> "50%"; a share that rounds to 0 or 100 but is not says so ("<1%", ">99%"). */
export function percent(share) {
  const value = Number(share) || 0;
  const rounded = Math.round(value * 100);
  if (rounded === 0 && value > 0) return "<1%";
  if (rounded === 100 && value < 1) return ">99%";
  return `${rounded}%`;
}

export const number = (n) => Number(n || 0).toLocaleString("en");

/** The top of the chart's scale: the smallest 1, 2 or 5 times a power of ten that is ≥ n. */
export function niceCeiling(n) {
  if (!(n > 1)) return 1;
  const power = 10 ** Math.floor(Math.log10(n));
  for (const step of [1, 2, 5, 10]) if (step * power >= n) return step * power;
  return 10 * power;
}

/**
 * Stacked bars, one per point, `keys` from the bottom up, in a box `width` × `height` (y down,
 * as in SVG). Answers the scale's top and the rectangles, leaving out the empty ones.
 */
export function stackedBars(points, keys, { width, height, gap = 0.2 }) {
  const top = niceCeiling(Math.max(0, ...points.map((point) => total(point, keys))));
  const slot = points.length ? width / points.length : width;
  const rects = [];
  points.forEach((point, index) => {
    let below = 0;
    for (const key of keys) {
      const value = Number(point[key]) || 0;
      if (value <= 0) continue;
      const tall = (value / top) * height;
      rects.push({
        key,
        index,
        value,
        x: round(index * slot + (slot * gap) / 2),
        y: round(height - below - tall),
        width: round(slot * (1 - gap)),
        height: round(tall),
      });
      below += tall;
    }
  });
  return { top, rects };
}

/**
 * Bars that go up for `up` and down for `down`, one per point, in a box `width` × `height` (y
 * down, as in SVG), on one scale: the line is where the two tops (each a round number) meet.
 * Answers the tops, the line's y and the rectangles, leaving out the empty ones.
 */
export function divergingBars(points, up, down, { width, height, gap = 0.2 }) {
  const highest = (key) => Math.max(0, ...points.map((point) => Number(point[key]) || 0));
  const above = niceCeiling(highest(up));
  const below = niceCeiling(highest(down));
  const unit = height / (above + below);
  const zero = round(above * unit);
  const slot = points.length ? width / points.length : width;
  const rects = [];
  points.forEach((point, index) => {
    for (const key of [up, down]) {
      const value = Number(point[key]) || 0;
      if (value <= 0) continue;
      const tall = round(value * unit);
      rects.push({
        key,
        index,
        value,
        x: round(index * slot + (slot * gap) / 2),
        y: key === up ? round(zero - tall) : zero,
        width: round(slot * (1 - gap)),
        height: tall,
      });
    }
  });
  return { above, below, zero, rects };
}

/** `2024-05-01T14:03:00Z` -> `14:03` (UTC, as the platform writes times). */
export function clock(iso) {
  const parsed = new Date(iso);
  return Number.isNaN(parsed.getTime()) ? String(iso) : parsed.toISOString().slice(11, 16);
}

const EVENTS = {
  what: "Events per minute",
  at: (point) => clock(point.at),
  unit: "minute",
  empty: "No figures for the last hour.",
  none: "none arrived",
  counted: "",
};

/**
 * A chart in one sentence, for those who do not see it: the period, the totals by series and
 * the busiest point. `series` is [[key, label, singular?], ...]; `said` names what is charted
 * (by default the overview's events per minute: see EVENTS).
 */
export function chartSummary(points, series, said = {}) {
  const { what, at, unit, empty, none, counted } = { ...EVENTS, ...said };
  if (!points.length) return empty;
  const keys = series.map(([key]) => key);
  const period = `from ${at(points[0])} to ${at(points[points.length - 1])} UTC`;
  const sums = series.map(([key, label, one]) => {
    const sum = points.reduce((all, point) => all + (Number(point[key]) || 0), 0);
    return [sum, sum === 1 && one ? one : label.toLowerCase()];
  });
  if (sums.every(([sum]) => sum === 0)) return `${what} ${period}: ${none}.`;
  const busiest = points.reduce((best, point) =>
    total(point, keys) > total(best, keys) ? point : best,
  );
  return (
    `${what} ${period}: ${sums.map(([sum, label]) => `${number(sum)} ${label}`).join(", ")}; ` +
    `the busiest ${unit}, ${at(busiest)}, had ${number(total(busiest, keys))}${counted}.`
  );
}

export const CHANGES = [
  ["entries", "Entries", "entry"],
  ["exits", "Exits", "exit"],
];

/** A segment's entries and exits per day (oldest first, the last is today) in words. */
export function changesSummary(days) {
  const chart = chartSummary(days, CHANGES, {
    what: "Entries and exits per day",
    at: (point) => point.day,
    unit: "day",
    empty: "No days to show.",
    none: "nobody entered or left",
    counted: " entries and exits",
  });
  if (!days.length) return chart;
  const today = days[days.length - 1];
  const entries = Number(today.entries) || 0;
  const exits = Number(today.exits) || 0;
  return (
    `${chart} Today, ${today.day}: ${number(entries)} ${entries === 1 ? "entry" : "entries"} ` +
    `and ${number(exits)} ${exits === 1 ? "exit" : "exits"}.`
  );
}

/** `2026-11-27T12:00:00.000Z` -> `2026-11-27` (the day in UTC). */
export function day(iso) {
  const parsed = new Date(iso);
  return Number.isNaN(parsed.getTime()) ? String(iso) : parsed.toISOString().slice(0, 10);
}

/** A purpose's share in `state` (granted, denied, unknown) at the end of a week. */
export const shareOf = (week, purpose, state = "granted") =>
  Number(week.consent?.[purpose]?.[state]) || 0;

/**
 * One line per purpose through the share granted at the end of each week (oldest first), in a
 * box `width` × `height` (y down, as in SVG: a share of 1 at the top). A week is a dot only if
 * profiles had been seen by its end: before, a share is no one's, so the line starts later.
 * The first week is at the left edge, the last at the right (a lone week at the right).
 */
export function shareLines(weeks, purposes, { width, height }) {
  const last = weeks.length - 1;
  return purposes.map((purpose) => ({
    key: purpose,
    dots: weeks.flatMap((week, index) => {
      if (!(Number(week.profiles) > 0)) return [];
      const share = shareOf(week, purpose);
      return [
        {
          index,
          share,
          x: round(last > 0 ? (index * width) / last : width),
          y: round(height - share * height),
        },
      ];
    }),
  }));
}

/**
 * The consent granted by week in words: the period, each purpose's share now and, when earlier
 * weeks had profiles, in the first of them.
 */
export function consentSummary(weeks, purposes) {
  if (!weeks.length || !purposes.length) return "No weeks of consent to show.";
  const seen = weeks.filter((week) => Number(week.profiles) > 0);
  if (!seen.length) {
    const period = weeks.length === 1 ? "week" : `${weeks.length} weeks`;
    return `No profile was seen in the last ${period}, so no consent to chart.`;
  }
  const shares = (week) => purposes.map((purpose) => `${purpose} ${percent(shareOf(week, purpose))}`).join(", ");
  const now = seen[seen.length - 1];
  const first = seen[0];
  const period =
    `Consent granted per purpose, as a share of the profiles seen by the end of each week, ` +
    `from the week to ${day(weeks[0].until)} to the week to ${day(weeks[weeks.length - 1].until)} (UTC).`;
  const then =
    seen.length === 1
      ? "No profile had been seen before."
      : `In the week to ${day(first.until)}${first === weeks[0] ? "" : ", the first with profiles"}: ${shares(first)}.`;
  return `${period} Now: ${shares(now)}. ${then}`;
}

/** Beneath the consent granted by week: what it is read from (every profile, or a sample). */
export function consentSource({ complete, sampled }) {
  const read = complete
    ? "Read from every profile's consent history"
    : `Read from the consent histories of a sample of ${number(sampled)} profiles, not every profile`;
  return `${read}; a profile counts from the week it was first seen.`;
}

const total = (point, keys) => keys.reduce((sum, key) => sum + (Number(point[key]) || 0), 0);
const round = (n) => Math.round(n * 100) / 100;
