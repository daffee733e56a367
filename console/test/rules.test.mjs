// The segment editor's pure parts: rules to conditions and back, typed values, and where an
// error about a part of a definition is shown.
import assert from "node:assert/strict";
import { test } from "node:test";

import {
  conditionOf,
  fieldKey,
  operandOf,
  parseValue,
  placeOf,
  rulesOf,
  valueText,
} from "../src/rules.js";

test("a typed value is a number, true/false or text; quotes keep text that looks like one", () => {
  assert.equal(parseValue("42"), 42);
  assert.equal(parseValue(" 2.5 "), 2.5);
  assert.equal(parseValue("true"), true);
  assert.equal(parseValue("pro"), "pro");
  assert.equal(parseValue('"02139"'), "02139");
  assert.equal(parseValue("null"), "null");
  assert.equal(parseValue("[1]"), "[1]");
  for (const value of ["pro", "02139", "42", "true", 42, false, "a, b"]) {
    assert.deepEqual(parseValue(valueText(value)), value, String(value));
  }
});

test("operands by operator: lists, pairs, days, and what is wrong with them", () => {
  assert.deepEqual(operandOf("in", "gold, silver, 3"), [["gold", "silver", 3]]);
  assert.deepEqual(operandOf("between", "10, 20"), [[10, 20]]);
  assert.deepEqual(operandOf("between", "10"), [undefined, "enter two values: low, high"]);
  assert.deepEqual(operandOf("within", "30"), [30]);
  assert.deepEqual(operandOf("older_than", "soon"), [undefined, "enter a number of days"]);
  assert.deepEqual(operandOf("exists", ""), [true]);
  assert.deepEqual(operandOf("missing", ""), [false]);
  assert.deepEqual(operandOf("eq", "  "), [undefined, "enter a value"]);
});

test("rules make a condition of the language, and the condition reads back as the rules", () => {
  const rules = [
    { subject: "trait", name: "plan", operator: "eq", value: "pro" },
    { subject: "computed", name: "orders_30d", operator: "gte", value: "1" },
    { subject: "identity", name: "email", operator: "missing", value: "" },
    { subject: "trait", name: "tier", operator: "in", value: "gold, silver" },
  ];
  const { condition, problems } = conditionOf("any", rules);
  assert.deepEqual(problems, {});
  assert.deepEqual(condition, {
    any: [
      { trait: "plan", eq: "pro" },
      { computed: "orders_30d", gte: 1 },
      { identity: "email", exists: false },
      { trait: "tier", in: ["gold", "silver"] },
    ],
  });
  assert.deepEqual(rulesOf(condition), { match: "any", rules });
});

test("problems are keyed as the platform keys them", () => {
  const { problems } = conditionOf("all", [
    { subject: "trait", name: "", operator: "eq", value: "x" },
    { subject: "profile", name: "last_seen", operator: "within", value: "a week" },
  ]);
  assert.deepEqual(problems, {
    "condition.all.0.trait": "enter a name",
    "condition.all.1.within": "enter a number of days",
  });
  assert.deepEqual(conditionOf("all", []).problems, { condition: "add at least one condition" });
});

test("a single condition is one rule; what nests deeper is not rules", () => {
  assert.deepEqual(rulesOf({ computed: "orders_30d", gte: 1 }), {
    match: "all",
    rules: [{ subject: "computed", name: "orders_30d", operator: "gte", value: "1" }],
  });
  assert.deepEqual(rulesOf({ segment: "buyers" }).rules[0].value, "true");
  assert.equal(rulesOf({ not: { trait: "plan", eq: "pro" } }), null);
  assert.equal(rulesOf({ all: [{ any: [{ trait: "a", eq: 1 }] }] }), null);
  assert.equal(rulesOf({ trait: "a", eq: 1, gt: 2 }), null);
});

test("an error is shown at the most precise place that holds it", () => {
  const places = ["name", "condition", "condition.all.0", "condition.all.0.gte", "conditions.0.value"];
  assert.equal(fieldKey("condition.all[0].gte"), "condition.all.0.gte");
  assert.equal(fieldKey("body.name"), "name");
  assert.equal(placeOf("condition.all[0].gte", places), "condition.all.0.gte");
  assert.equal(placeOf("condition.all.0.between[1]", places), "condition.all.0");
  assert.equal(placeOf("condition.any[0]", places), "condition");
  assert.equal(placeOf("conditions.0.value", places), "conditions.0.value");
  assert.equal(placeOf("named", places), null);
  assert.equal(placeOf("purpose", places), null);
});
