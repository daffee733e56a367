// Bar charts drawn in SVG with DOM calls: colours are classes in app.css (the CSP allows no
// inline style), the chart is an image whose title says it in one sentence, and its figures
// are a visually hidden table for screen readers. The overview's events per minute and a
// segment's entries and exits per day; the bars come from figures.js.
import { h, replace, table } from "./dom.js";
import { number } from "./figures.js";

// The chart's box, in SVG units; the plot leaves room for the scale (left) and the times (below).
const WIDTH = 640;
const HEIGHT = 180;
export const PLOT = { left: 44, top: 8, width: 588, height: 144 };

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
  const { id, className, summary, points, series, label, rects, scale, caption, head } = options;
  const keys = series.map(([key]) => key);
  const last = points.length - 1;
  const ticks = [...new Set([0, Math.floor(points.length / 2), last])].filter((n) => n >= 0);
  const drawing = svg(
    "svg",
    {
      class: className,
      viewBox: `0 0 ${WIDTH} ${HEIGHT}`,
      role: "img",
      "aria-labelledby": id,
      preserveAspectRatio: "xMidYMid meet",
    },
    svg("title", { id }, summary),
    svg(
      "g",
      { class: "axis", transform: `translate(${PLOT.left} ${PLOT.top})` },
      scale.map(({ y, text, base }) => [
        svg("line", { x1: 0, x2: PLOT.width, y1: y, y2: y, class: base ? "base" : "grid" }),
        text ? svg("text", { x: -6, y: y + 4, "text-anchor": "end" }, text) : null,
      ]),
      ticks.map((n) =>
        svg(
          "text",
          {
            x: ((n + 0.5) * PLOT.width) / points.length,
            y: PLOT.height + 18,
            "text-anchor": n === 0 ? "start" : n === last ? "end" : "middle",
          },
          label(points[n]),
        ),
      ),
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
    series.map(([key, name]) => h("li", {}, h("span", { class: `swatch ${key}` }), name)),
  );
  const figures = table(
    caption,
    [head, ...series.map(([, name]) => name)],
    points.map((point) => [label(point), ...keys.map((key) => number(point[key]))]),
    { className: options.tableClass },
  );
  replace(area, drawing, legend, h("div", { class: "visually-hidden" }, figures));
}
