// Charts drawn in SVG with DOM calls: colours are classes in app.css (the CSP allows no inline
// style), the chart is an image whose title says it in words, and its figures are a visually
// hidden table for screen readers. Bars (the overview's events per minute, a segment's entries
// and exits per day) and small line charts side by side, one per series (the overview's
// consent granted by week); the bars and lines come from figures.js.
import { h, replace, table } from "./dom.js";
import { number } from "./figures.js";

// The bar chart's box, in SVG units; the plot leaves room for the scale (left) and the times (below).
const WIDTH = 640;
const HEIGHT = 180;
export const PLOT = { left: 44, top: 8, width: 588, height: 144 };
// Small line charts, COLUMNS to a row, each in a PANEL: its name above the plot (SMALL, in
// the panel), the scale at its left, the first and last times below.
const COLUMNS = 2;
const PANEL = { width: WIDTH / COLUMNS, height: 134 };
export const SMALL = { left: 44, top: 26, width: 252, height: 70 };

const SVG = "http://www.w3.org/2000/svg";

/** An SVG element; attributes are presentation attributes or classes (no style). */
export function svg(tag, attributes = {}, ...children) {
  const element = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attributes)) element.setAttribute(name, String(value));
  for (const child of children.flat(Infinity)) if (child !== null && child !== undefined) element.append(child);
  return element;
}

/**
 * Draws into `area` the bars (`rects` in PLOT's box, each `{key, index, x, y, width, height}`),
 * the lines of the scale (`scale`: `[{y, text, base}]`, the base drawn darker, an empty text
 * not drawn), the first, middle and last `label(point)` below, a legend of `series`
 * ([[key, name], ...]) and the figures as a table (`caption`, first column `head`, class
 * `tableClass`). `id` names the title (unique on the page); `summary` is its sentence.
 */
export function barChart(area, options) {
  const { points, label, rects, scale } = options;
  const last = points.length - 1;
  const ticks = [...new Set([0, Math.floor(points.length / 2), last])].filter((n) => n >= 0);
  const drawing = image(
    options,
    HEIGHT,
    svg(
      "g",
      { class: "axis", transform: `translate(${PLOT.left} ${PLOT.top})` },
      scaleLines(scale, PLOT.width),
      ticks.map((n) => {
        const anchor = n === 0 ? "start" : n === last ? "end" : "middle";
        return below(((n + 0.5) * PLOT.width) / points.length, PLOT.height, anchor, label(points[n]));
      }),
      rects.map((rect) =>
        svg("rect", {
          class: `bar ${rect.key}`,
          x: rect.x,
          y: rect.y,
          width: rect.width,
          height: rect.height,
        }),
      ),
    ),
  );
  const legend = h(
    "ul",
    { class: "legend", "aria-hidden": "true" },
    options.series.map(([key, name]) => h("li", {}, h("span", { class: `swatch ${key}` }), name)),
  );
  replace(area, drawing, legend, figures(options, (point, key) => number(point[key])));
}

/**
 * Draws into `area` one small line chart per line (`lines`: `[{key, dots: [{x, y}]}]`, dots in
 * SMALL's box, oldest first), COLUMNS to a row, all on one `scale` (as barChart's), each headed
 * by its name in `series` and, at the right, `end(line)` (its latest figure): a line is told
 * apart by these words, not by colour. A dot marks each point (the last larger); the first and
 * last `label(point)` are below each plot. The figures as a table as barChart's, each cell
 * `cell(point, key)`, its columns `columns` (by default `series`).
 */
export function lineCharts(area, options) {
  const { points, series, label, lines, scale, end } = options;
  const names = new Map(series);
  const last = points.length - 1;
  // [x, anchor, point]: the first and the last point, or a lone one at the right
  const ticks = last > 0 ? [[0, "start", 0], [SMALL.width, "end", last]] : last === 0 ? [[SMALL.width, "end", 0]] : [];
  const panels = lines.map((line, n) => {
    const left = (n % COLUMNS) * PANEL.width + SMALL.left;
    const top = Math.floor(n / COLUMNS) * PANEL.height + SMALL.top;
    const said = end(line);
    return svg(
      "g",
      { class: "axis panel", transform: `translate(${left} ${top})` },
      svg("text", { class: "name", x: 0, y: -12 }, names.get(line.key)),
      said ? svg("text", { class: "end", x: SMALL.width, y: -12, "text-anchor": "end" }, said) : null,
      scaleLines(scale, SMALL.width),
      ticks.map(([x, anchor, index]) => below(x, SMALL.height, anchor, label(points[index]))),
      line.dots.length > 1
        ? svg("polyline", { class: "line", points: line.dots.map(({ x, y }) => `${x},${y}`).join(" ") })
        : null, // a lone dot is no line
      line.dots.map(({ x, y }, index) =>
        svg("circle", { class: "dot", cx: x, cy: y, r: index === line.dots.length - 1 ? 3.5 : 2 }),
      ),
    );
  });
  const rows = Math.max(1, Math.ceil(lines.length / COLUMNS));
  const drawing = image(options, rows * PANEL.height, panels);
  replace(area, drawing, figures({ ...options, series: options.columns || series }, options.cell));
}

/** The chart as an image named by its title: `id` (unique on the page), its words `summary`. */
function image({ id, className, summary }, height, ...children) {
  return svg(
    "svg",
    {
      class: className,
      viewBox: `0 0 ${WIDTH} ${height}`,
      role: "img",
      "aria-labelledby": id,
      preserveAspectRatio: "xMidYMid meet",
    },
    svg("title", { id }, summary),
    children,
  );
}

/** The scale's lines across `width`, each with its text at the left. */
const scaleLines = (scale, width) =>
  scale.map(({ y, text, base }) => [
    svg("line", { x1: 0, x2: width, y1: y, y2: y, class: base ? "base" : "grid" }),
    text ? svg("text", { x: -6, y: y + 4, "text-anchor": "end" }, text) : null,
  ]);

/** A time under a plot `height` tall. */
const below = (x, height, anchor, text) => svg("text", { x, y: height + 18, "text-anchor": anchor }, text);

/** The figures as a visually hidden table: a row per point, a column per series. */
function figures({ points, series, label, caption, head, tableClass }, cell) {
  return h(
    "div",
    { class: "visually-hidden" },
    table(
      caption,
      [head, ...series.map(([, name]) => name)],
      points.map((point) => [label(point), ...series.map(([key]) => cell(point, key))]),
      { className: tableClass },
    ),
  );
}
