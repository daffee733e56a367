// Sends identify, track, page and group with Segment's own Node library (@segment/analytics-node)
// to the API given on the command line; prints the messageIds it sent as a JSON list.
import { randomUUID } from "node:crypto";
import { Analytics } from "@segment/analytics-node";

const [host, writeKey] = process.argv.slice(2);
const analytics = new Analytics({ writeKey, host, flushInterval: 200, maxRetries: 2 });
const failures = [];
analytics.on("error", (error) => failures.push(String(error?.reason ?? error)));

const ids = [randomUUID(), randomUUID(), randomUUID(), randomUUID()];
const userId = `node-${ids[0]}`;
analytics.identify({ userId, traits: { plan: "team" }, messageId: ids[0] });
analytics.track({ userId, event: "Report Exported", properties: { rows: 12 }, messageId: ids[1] });
analytics.page({ userId, name: "Pricing", messageId: ids[2] });
analytics.group({ userId, groupId: "acme", traits: { seats: 5 }, messageId: ids[3] });
await analytics.closeAndFlush({ timeout: 20000 });

if (failures.length) {
  console.error(failures.join("\n"));
  process.exit(1);
}
console.log(JSON.stringify(ids));
