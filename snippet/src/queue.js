// The outbox: events wait here until the collector has taken them. It is kept in storage, so
// that events survive a reload or a crash, and bounded, so that a long outage cannot fill
// the visitor's storage: past `max` events, the oldest are given up.

export class Queue {
  constructor(store, key = "cdp_queue", max = 100) {
    this.store = store;
    this.key = key;
    this.max = max;
    try {
      this.items = JSON.parse(store.get(key) || "[]");
    } catch (e) {
      this.items = [];
    }
  }

  save() {
    if (this.items.length) this.store.set(this.key, JSON.stringify(this.items));
    else this.store.del(this.key);
  }

  push(message) {
    this.items.push(message);
    if (this.items.length > this.max) this.items.splice(0, this.items.length - this.max);
    this.save();
  }

  /** The next `n` messages, still in the queue until `done` is called with them. */
  peek(n) {
    return this.items.slice(0, n);
  }

  done(messages) {
    const sent = new Set(messages.map((m) => m.messageId));
    this.items = this.items.filter((m) => !sent.has(m.messageId));
    this.save();
  }

  clear() {
    this.items = [];
    this.save();
  }
}
