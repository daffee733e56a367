// The charts' arithmetic: percentages, the scale, stacked and diverging bars, the consent
// granted by week, the summaries.
import assert from "node:assert/strict";
import { test } from "node:test";

import {
  changesSummary,
  chartSummary,
  consentSource,
  consentSummary,
  day,
  divergingBars,
  niceCeiling,
  percent,
  shareLines,
  stackedBars,
} from "../src/figures.js";

test("a share reads as a whole percentage, never 0% or 100% when it is not", () => {
  assert.equal(percent(0.5), "50%");
  assert.equal(percent(0.4999), "50%");
  assert.equal(percent(0), "0%");
  assert.equal(percent(1), "100%");
  assert.equal(percent(0.001), "<1%");
  assert.equal(percent(0.999), ">99%");
  assert.equal(percent(null), "0%");
});

test("the scale's top is a round number at least as high as the highest bar", () => {
  assert.deepEqual([0, 1, 3, 10, 11, 180, 2001].map(niceCeiling), [1, 1, 5, 10, 20, 200, 5000]);
});

test("bars stack from the bottom up in the series' order, empty parts left out", () => {
  const points = [
    { at: "2024-05-01T14:00:00Z", stored: 6, not_stored: 0, refused: 4 },
    { at: "2024-05-01T14:01:00Z", stored: 0, not_stored: 0, refused: 0 },
  ];
  const { top, rects } = stackedBars(points, ["stored", "not_stored", "refused"], {
    width: 200,
    height: 100,
    gap: 0,
  });
  assert.equal(top, 10);
  assert.deepEqual(rects, [
    { key: "stored", index: 0, value: 6, x: 0, y: 40, width: 100, height: 60 },
    { key: "refused", index: 0, value: 4, x: 0, y: 0, width: 100, height: 40 },
  ]);
});

test("the chart is said in one sentence: the period, the totals and the busiest minute", () => {
  const series = [
    ["stored", "Stored"],
    ["refused", "Refused"],
  ];
  const points = [
    { at: "2024-05-01T14:00:00Z", stored: 1200, refused: 0 },
    { at: "2024-05-01T14:01:00Z", stored: 3, refused: 2 },
  ];
  assert.equal(
    chartSummary(points, series),
    "Events per minute from 14:00 to 14:01 UTC: 1,203 stored, 2 refused; the busiest minute, 14:00, had 1,200.",
  );
  assert.equal(
    chartSummary(
      points.map((point) => ({ at: point.at })),
      series,
    ),
    "Events per minute from 14:00 to 14:01 UTC: none arrived.",
  );
});

test("entries go up and exits down from one line, on one scale", () => {
  const days = [
    { day: "2026-11-27", entries: 4, exits: 0 },
    { day: "2026-11-28", entries: 2, exits: 1 },
  ];
  const { above, below, zero, rects } = divergingBars(days, "entries", "exits", {
    width: 200,
    height: 60,
    gap: 0,
  });
  assert.deepEqual([above, below, zero], [5, 1, 50]);
  assert.deepEqual(rects, [
    { key: "entries", index: 0, value: 4, x: 0, y: 10, width: 100, height: 40 },
    { key: "entries", index: 1, value: 2, x: 100, y: 30, width: 100, height: 20 },
    { key: "exits", index: 1, value: 1, x: 100, y: 50, width: 100, height: 10 },
  ]);
});

test("a segment's days are said in one sentence and today's in another", () => {
  const days = [
    { day: "2026-11-26", entries: 3, exits: 2 },
    { day: "2026-11-27", entries: 0, exits: 0 },
    { day: "2026-11-28", entries: 1, exits: 0 },
  ];
  assert.equal(
    changesSummary(days),
    "Entries and exits per day from 2026-11-26 to 2026-11-28 UTC: 4 entries, 2 exits; " +
      "the busiest day, 2026-11-26, had 5 entries and exits. Today, 2026-11-28: 1 entry and 0 exits.",
  );
  assert.equal(
    changesSummary(days.slice(1, 2)),
    "Entries and exits per day from 2026-11-27 to 2026-11-27 UTC: nobody entered or left. " +
      "Today, 2026-11-27: 0 entries and 0 exits.",
  );
  assert.equal(
    changesSummary([{ day: "2026-11-28", entries: 1, exits: 1 }]).split(": ")[1],
    "1 entry, 1 exit; the busiest day, 2026-11-28, had 2 entries and exits. Today, 2026-11-28",
  );
});

/** A week as the overview answers it: the shares granted per purpose (denied and unknown aside). */
const week = (until, profiles, granted) => ({
  until,
  profiles,
  consent: Object.fromEntries(
    Object.entries(granted).map(([purpose, share]) => [purpose, { granted: share, denied: 0, unknown: 1 - share }]),
  ),
});

test("a week is named by its last day in UTC", () => {
  assert.equal(day("2026-11-27T12:00:00.000Z"), "2026-11-27");
  assert.equal(day("2026-11-27T23:30:00-02:00"), "2026-11-28");
});

test("each purpose's line goes through the share granted, from the first week with profiles", () => {
  const weeks = [
    week("2026-11-13T12:00:00.000Z", 0, { marketing: 0, analytics: 0 }),
    week("2026-11-20T12:00:00.000Z", 4, { marketing: 0.25, analytics: 1 }),
    week("2026-11-27T12:00:00.000Z", 5, { marketing: 0.6, analytics: 0.8 }),
  ];
  const lines = shareLines(weeks, ["marketing", "analytics"], { width: 200, height: 100 });
  assert.deepEqual(lines, [
    {
      key: "marketing",
      dots: [
        { index: 1, share: 0.25, x: 100, y: 75 },
        { index: 2, share: 0.6, x: 200, y: 40 },
      ],
    },
    {
      key: "analytics",
      dots: [
        { index: 1, share: 1, x: 100, y: 0 },
        { index: 2, share: 0.8, x: 200, y: 20 },
      ],
    },
  ]);
  // a purpose the weeks do not name is granted by nobody; a lone week is at the right
  assert.deepEqual(shareLines(weeks.slice(2), ["sharing"], { width: 200, height: 100 }), [
    { key: "sharing", dots: [{ index: 0, share: 0, x: 200, y: 100 }] },
  ]);
});

test("the consent granted by week is said as the shares now and in the first week with profiles", () => {
  const weeks = [
    week("2026-11-13T12:00:00.000Z", 0, { marketing: 0, analytics: 0 }),
    week("2026-11-20T12:00:00.000Z", 4, { marketing: 0.25, analytics: 1 }),
    week("2026-11-27T12:00:00.000Z", 5, { marketing: 0.6, analytics: 0.8 }),
  ];
  const purposes = ["marketing", "analytics"];
  const period =
    "Consent granted per purpose, as a share of the profiles seen by the end of each week, " +
    "from the week to 2026-11-13 to the week to 2026-11-27 (UTC).";
  assert.equal(
    consentSummary(weeks, purposes),
    `${period} Now: marketing 60%, analytics 80%. ` +
      "In the week to 2026-11-20, the first with profiles: marketing 25%, analytics 100%.",
  );
  assert.equal(
    consentSummary(weeks.slice(1), purposes).split(" Now: ")[1],
    "marketing 60%, analytics 80%. In the week to 2026-11-20: marketing 25%, analytics 100%.",
  );
  assert.equal(
    consentSummary([weeks[0], weeks[2]], purposes).split(" Now: ")[1],
    "marketing 60%, analytics 80%. No profile had been seen before.",
  );
  assert.equal(
    consentSummary(weeks.slice(0, 1), purposes),
    "No profile was seen in the last week, so no consent to chart.",
  );
  assert.equal(consentSummary([], purposes), "No weeks of consent to show.");
});

test("beneath the consent by week: read from every profile, or from a sample when not all", () => {
  assert.equal(
    consentSource({ complete: true, sampled: 2 }),
    "Read from every profile's consent history; a profile counts from the week it was first seen.",
  );
  assert.equal(
    consentSource({ complete: false, sampled: 1000 }),
    "Read from the consent histories of a sample of 1,000 profiles, not every profile; " +
      "a profile counts from the week it was first seen.",
  );
});
