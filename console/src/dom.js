// Building the page with DOM calls only. Every text goes in through a text node, never as
// markup: profile data is written by whoever sends events, so it must never be parsed as HTML.
// There is no `style` attribute either (the CSP allows no inline style): looks are classes.

const PROPERTIES = new Set(["value", "checked", "disabled", "hidden", "open", "type", "name"]);

/**
 * h("a", {href: "/x", class: "link", onclick: fn}, "text", child, [more, children])
 * Attributes are set with setAttribute, `on…` functions become listeners, and children are
 * nodes, texts (as text nodes) or arrays of them; null, undefined and false are skipped.
 */
export function h(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (name === "style" || name === "innerHTML" || name === "outerHTML") {
      throw new Error(`${name} is not allowed: use classes and text`);
    }
    if (name.startsWith("on") && typeof value === "function") {
      element.addEventListener(name.slice(2), value);
    } else if (PROPERTIES.has(name)) {
      element[name] = value;
    } else {
      element.setAttribute(name, value === true ? "" : String(value));
    }
  }
  append(element, children);
  return element;
}

export function append(parent, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    parent.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return parent;
}

/** Replaces everything in `parent` with `children`. */
export function replace(parent, ...children) {
  parent.replaceChildren();
  return append(parent, children);
}

/** A table with a caption and column headers; `rows` are arrays of cells (texts or nodes). */
export function table(caption, headers, rows, { className } = {}) {
  return h(
    "table",
    { class: className },
    h("caption", {}, caption),
    h(
      "thead",
      {},
      h(
        "tr",
        {},
        headers.map((header) => h("th", { scope: "col" }, header)),
      ),
    ),
    h(
      "tbody",
      {},
      rows.map((cells) =>
        h(
          "tr",
          {},
          cells.map((cell, index) =>
            index === 0 ? h("th", { scope: "row" }, cell) : h("td", {}, cell),
          ),
        ),
      ),
    ),
  );
}

/** A description list of [term, description] pairs. */
export function facts(pairs, { className } = {}) {
  return h(
    "dl",
    { class: className },
    pairs
      .filter(Boolean)
      .map(([term, description]) => h("div", {}, h("dt", {}, term), h("dd", {}, description))),
  );
}

/** A part of a view: a section named by its heading (`${id}-heading`). */
export function part(id, title, ...content) {
  return h(
    "section",
    { "aria-labelledby": `${id}-heading`, class: "part" },
    h("h2", { id: `${id}-heading` }, title),
    content,
  );
}
