// Why a person is in a segment: the segment's condition as a tree, each part with whether it
// holds and, for each single condition, the person's actual value now.
import { h } from "./dom.js";
import { OPERATORS, SUBJECTS } from "./rules.js";

const COMBINATORS = {
  all: "All of these hold",
  any: "At least one of these holds",
  not: "This does not hold",
};

export function explanation(explained) {
  return h(
    "div",
    { class: "why" },
    h("p", {}, h("strong", {}, "Why: "), explained.member ? "a member now." : "not a member now."),
    h("ul", { class: "condition" }, condition(explained.condition, true)),
    explained.purpose
      ? h(
          "p",
          {},
          `Needs consent for ${explained.purpose.consent}: it is ${explained.purpose.state ?? "not given"} `,
          judgement(explained.purpose.holds),
        )
      : null,
    explained.pending
      ? h(
          "p",
          { class: "pending" },
          `About to change to ${explained.pending.member ? "member" : "not a member"}: ${explained.pending.reason}.`,
        )
      : null,
  );
}

/** A condition as it reads, without anyone's values (a segment's definition). */
export const description = (node) =>
  h("ul", { class: "condition why" }, condition(node, false));

function condition(node, judged) {
  const verdict = judged ? judgement : () => null;
  for (const combinator of ["all", "any"]) {
    if (Array.isArray(node[combinator])) {
      return h(
        "li",
        {},
        COMBINATORS[combinator],
        " ",
        verdict(node.holds),
        h("ul", {}, node[combinator].map((part) => condition(part, judged))),
      );
    }
  }
  if (node.not) {
    return h("li", {}, COMBINATORS.not, " ", verdict(node.holds), h("ul", {}, condition(node.not, judged)));
  }
  const subject = SUBJECTS.find((name) => name in node);
  const operator = Object.keys(OPERATORS).find((name) => name in node);
  return h(
    "li",
    {},
    `${subject ? subject.replace(/_/g, " ") : "?"} `,
    h("code", {}, String(subject ? node[subject] : "?")),
    operator === "exists"
      ? node.exists
        ? " exists"
        : " does not exist"
      : [
          ` ${operator ? OPERATORS[operator] : "?"} `,
          h("code", {}, JSON.stringify(node[operator])),
        ],
    judged ? ["; actual: ", h("code", {}, JSON.stringify(node.actual ?? null)), " "] : null,
    verdict(node.holds),
  );
}

// Said in words, not only in colour.
const judgement = (holds) =>
  h("span", { class: `badge ${holds ? "good" : "warn"}` }, holds ? "holds" : "does not hold");
