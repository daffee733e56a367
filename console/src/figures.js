// The overview's arithmetic, apart from the page so that it can be tested without a browser:
// shares as percentages, the events chart's scale and bars, and the chart said in words.

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

/** `2024-05-01T14:03:00Z` -> `14:03` (UTC, as the platform writes times). */
export function clock(iso) {
  const parsed = new Date(iso);
  return Number.isNaN(parsed.getTime()) ? String(iso) : parsed.toISOString().slice(11, 16);
}

/**
 * The chart in one sentence, for those who do not see it: the period, the totals by series
 * and the busiest minute. `series` is [[key, label], ...].
 */
export function chartSummary(points, series) {
  if (!points.length) return "No figures for the last hour.";
  const keys = series.map(([key]) => key);
  const period = `from ${clock(points[0].at)} to ${clock(points[points.length - 1].at)} UTC`;
  const sums = series.map(([key, label]) => [
    points.reduce((sum, point) => sum + (Number(point[key]) || 0), 0),
    label.toLowerCase(),
  ]);
  if (sums.every(([sum]) => sum === 0)) return `Events per minute ${period}: none arrived.`;
  const busiest = points.reduce((best, point) =>
    total(point, keys) > total(best, keys) ? point : best,
  );
  return (
    `Events per minute ${period}: ${sums.map(([sum, label]) => `${number(sum)} ${label}`).join(", ")}; ` +
    `the busiest minute, ${clock(busiest.at)}, had ${number(total(busiest, keys))}.`
  );
}

const total = (point, keys) => keys.reduce((sum, key) => sum + (Number(point[key]) || 0), 0);
const round = (n) => Math.round(n * 100) / 100;
