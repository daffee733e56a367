// The segment editor's pure parts: a condition as a list of rules and back, what a typed value
// means, and where an error about a part of a definition is shown.

export const SUBJECTS = [
  "trait",
  "trait_set_at",
  "computed",
  "profile",
  "identity",
  "consent",
  "segment",
];
export const OPERATORS = {
  eq: "is",
  neq: "is not",
  in: "is one of",
  contains: "contains",
  exists: "exists",
  missing: "does not exist",
  gt: "is more than",
  gte: "is at least",
  lt: "is less than",
  lte: "is at most",
  between: "is between",
  prefix: "starts with",
  within: "is within (days)",
  older_than: "is older than (days)",
};
const NO_VALUE = new Set(["exists", "missing"]);
export const needsValue = (operator) => !NO_VALUE.has(operator);

/** A typed value: a JSON number, true/false or "quoted text" reads as such; anything else is text. */
export function parseValue(text) {
  const trimmed = String(text).trim();
  try {
    const parsed = JSON.parse(trimmed);
    if (["string", "number", "boolean"].includes(typeof parsed)) return parsed;
  } catch {
    // plain text
  }
  return trimmed;
}

/** A value as typed, so that parseValue reads it back the same. */
export function valueText(value) {
  if (typeof value === "string") return parseValue(value) === value ? value : JSON.stringify(value);
  return JSON.stringify(value);
}

const list = (text) =>
  String(text)
    .split(",")
    .map((item) => item.trim())
    .filter(Boolean)
    .map(parseValue);

/** A rule's operand from its text: [operand] or [undefined, what is wrong]. */
export function operandOf(operator, text) {
  if (!needsValue(operator)) return [operator === "exists"];
  if (!String(text).trim()) return [undefined, "enter a value"];
  if (operator === "in") return [list(text)];
  if (operator === "between") {
    const both = list(text);
    return both.length === 2 ? [both] : [undefined, "enter two values: low, high"];
  }
  if (operator === "within" || operator === "older_than") {
    const days = Number(text);
    return Number.isFinite(days) && days >= 0 && String(text).trim() !== ""
      ? [days]
      : [undefined, "enter a number of days"];
  }
  return [parseValue(text)];
}

export function operandText(operator, operand) {
  if (!needsValue(operator)) return "";
  if (Array.isArray(operand)) return operand.map(valueText).join(", ");
  return valueText(operand);
}

/** One condition of the language as a rule of the editor, or null if it is not a single one. */
export function ruleOf(node) {
  if (!node || typeof node !== "object" || Array.isArray(node)) return null;
  const subjects = SUBJECTS.filter((subject) => subject in node);
  const operators = Object.keys(node).filter((key) => !SUBJECTS.includes(key));
  if (subjects.length !== 1 || operators.length > 1) return null;
  const subject = subjects[0];
  let operator = operators[0];
  let operand = node[operator];
  if (operator === undefined) {
    if (subject !== "segment" && subject !== "consent") return null;
    [operator, operand] = ["eq", subject === "segment" ? true : "granted"];
  }
  if (!(operator in OPERATORS) || operator === "missing") return null;
  if (operator === "exists" && operand === false) operator = "missing";
  return { subject, name: String(node[subject]), operator, value: operandText(operator, operand) };
}

/** A condition as `{match: "all"|"any", rules}`, or null when it nests deeper than that. */
export function rulesOf(condition) {
  const single = ruleOf(condition);
  if (single) return { match: "all", rules: [single] };
  for (const match of ["all", "any"]) {
    if (condition && Array.isArray(condition[match]) && Object.keys(condition).length === 1) {
      const rules = condition[match].map(ruleOf);
      if (rules.length && rules.every(Boolean)) return { match, rules };
    }
  }
  return null;
}

/**
 * The condition of `match` and `rules`, and the problems found on the way, keyed as the
 * platform keys them (`condition.all.0.gte`).
 */
export function conditionOf(match, rules) {
  const problems = {};
  const parts = rules.map((rule, index) => {
    const at = `condition.${match}.${index}`;
    if (!rule.name.trim()) problems[`${at}.${rule.subject}`] = "enter a name";
    const [operand, problem] = operandOf(rule.operator, rule.value);
    const operator = rule.operator === "missing" ? "exists" : rule.operator;
    if (problem) problems[`${at}.${operator}`] = problem;
    return { [rule.subject]: rule.name.trim(), [operator]: operand };
  });
  if (!rules.length) problems.condition = "add at least one condition";
  return { condition: { [match]: parts }, problems };
}

/** `condition.all[0].gte` and `body.condition.all.0.gte` alike read `condition.all.0.gte`. */
export function fieldKey(path) {
  return String(path)
    .replace(/\[(\d+)\]/g, ".$1")
    .replace(/^body\./, "")
    .replace(/^\./, "");
}

/** Of the places a form shows errors at, the one for `path`: the longest that contains it. */
export function placeOf(path, places) {
  const key = fieldKey(path);
  let best = null;
  for (const place of places) {
    if ((key === place || key.startsWith(`${place}.`)) && (!best || place.length > best.length))
      best = place;
  }
  return best;
}
