// Sends, with RudderStack's own Node library (@rudderstack/rudder-sdk-node), what a server
// sends about one visitor: anonymous events, an identify with traits, an order, an alias, and
// the order again (a resend of the same message). Times are the device's, two hours ago.
// Prints {messages: [{messageId, originalTimestamp}], failures} as JSON.
import { createRequire } from "node:module";
import { randomUUID } from "node:crypto";

const require = createRequire(import.meta.url);
const Analytics = require("@rudderstack/rudder-sdk-node");

const [dataPlaneUrl, writeKey, run] = process.argv.slice(2);
const failures = [];
const analytics = new Analytics(writeKey, {
  dataPlaneUrl,
  flushAt: 3,
  flushInterval: 200,
  retryCount: 3,
  errorHandler: (error) => failures.push(String(error?.message ?? error)),
});
const at = (minutes) => new Date(Date.now() - 2 * 3600_000 + minutes * 60_000);
const anonymousId = `rs-node-anon-${run}`;
const userId = `rs-node-${run}`;
const order = {
  userId,
  event: "Order Completed",
  properties: { revenue: 99.5, currency: "EUR" },
  messageId: randomUUID(),
  originalTimestamp: at(4),
};
const messages = [
  ["page", { anonymousId, name: "Pricing", properties: { path: "/pricing" }, messageId: randomUUID(), originalTimestamp: at(0) }],
  ["track", { anonymousId, event: "Trial Started", messageId: randomUUID(), originalTimestamp: at(1) }],
  ["identify", { userId, anonymousId, traits: { email: `${userId}@example.com`, plan: "team" }, messageId: randomUUID(), originalTimestamp: at(2) }],
  ["track", order],
  ["alias", { previousId: anonymousId, userId, messageId: randomUUID(), originalTimestamp: at(5) }],
  ["track", { ...order }],  // the same message again
];
for (const [type, message] of messages) {
  analytics[type](message);
}
await analytics.flush();
await new Promise((resolve) => setTimeout(resolve, 500));
await analytics.flush();
console.log(JSON.stringify({
  messages: messages.map(([, m]) => ({ messageId: m.messageId, originalTimestamp: m.originalTimestamp.toISOString() })),
  failures,
}));
