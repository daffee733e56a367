// cdp.js: a small, privacy-first tracker for the Serverless CDP.
//
// One global, `cdp`. Calls made before the library has loaded (through the loader stub) are
// queued in `cdp.q` and replayed. Nothing here may throw into the page.

import { context } from "./context.js";
import { Queue } from "./queue.js";
import { cookie, local } from "./storage.js";
import { beacon, post, verdict } from "./transport.js";
import { backoff, iso, safe, uuid } from "./util.js";

const ANON = "cdp_aid";
const USER = "cdp_uid";
const SIGNATURE = "cdp_sig";
const CONSENT = "cdp_consent";
// The forms helpers' versioned, immutable path, which the build writes in (snippet/build.mjs);
// unbuilt (the Node tests), their stable path.
const FORMS = typeof CDP_FORMS === "string" ? CDP_FORMS : "/v1/cdp-forms.js";

export function create(win = window) {
  let options = {};
  let writeKey;
  let anonymousId;
  let userId;
  let signature;
  let consent;
  let queue;
  let timer = 0;
  let attempt = 0;
  let sending = false;

  const url = (path) => options.host + path;
  const allowed = () => !options.requireConsent || consent?.analytics === true;

  function remember() {
    if (!allowed()) return; // no identifier is stored before analytics consent
    cookie.set(ANON, anonymousId, options.cookieDays, options.cookieDomain);
    local.set(ANON, anonymousId);
    userId ? local.set(USER, userId) : local.del(USER);
    signature ? local.set(SIGNATURE, signature) : local.del(SIGNATURE);
  }

  function forget() {
    cookie.del(ANON, options.cookieDomain);
    for (const key of [ANON, USER, SIGNATURE]) local.del(key);
  }

  function ensureIdentity() {
    anonymousId = anonymousId || uuid();
    remember();
  }

  function message(type, fields) {
    ensureIdentity();
    const ctx = context(win);
    if (consent) ctx.consent = { categoryPreferences: consent };
    return {
      type,
      messageId: uuid(),
      timestamp: iso(),
      anonymousId,
      ...(userId ? { userId } : {}),
      context: ctx,
      ...fields,
    };
  }

  function enqueue(type, fields, force) {
    if (!queue || !(force || allowed())) return; // nothing is sent without consent
    queue.push(message(type, fields));
    if (queue.items.length >= options.batchSize && !sending && !attempt) {
      clearTimeout(timer); // a full batch goes at once
      timer = 0;
      schedule(0);
    } else schedule(options.flushInterval);
  }

  function schedule(ms) {
    if (!timer && !sending) timer = setTimeout(flush, ms);
  }

  async function flush() {
    timer = 0;
    const batch = queue.peek(options.batchSize);
    if (!batch.length || sending) return;
    sending = true;
    // The same messageId and timestamp on every retry: the collector stores a message once.
    const body = JSON.stringify({ writeKey, batch, sentAt: iso() });
    const outcome = verdict(await post(url("/v1/batch"), body, options.fetch));
    sending = false;
    if (outcome == "retry") {
      timer = setTimeout(flush, backoff(attempt++, Math.random, options.retryBase));
      return;
    }
    attempt = 0;
    queue.done(batch); // taken, or refused for good (the collector keeps refusals)
    if (queue.items.length) schedule(0);
  }

  function pageHidden() {
    // The page may be gone before a timer fires: hand everything to the browser now. The
    // events stay queued until a normal send confirms them; a copy that arrives twice is
    // stored once.
    for (let i = 0; i < queue.items.length; i += options.batchSize) {
      const batch = queue.items.slice(i, i + options.batchSize);
      beacon(url("/v1/batch"), JSON.stringify({ writeKey, batch, sentAt: iso() }));
    }
  }

  const api = {
    load(key, given = {}) {
      if (queue) return;
      writeKey = key;
      options = {
        host: "",
        cookieDays: 365,
        cookieDomain: "",
        requireConsent: false,
        honorGpc: false,
        flushInterval: 1000,
        batchSize: 20,
        queueSize: 100,
        retryBase: 1000,
        ...given,
      };
      try {
        consent = JSON.parse(local.get(CONSENT)) || undefined;
      } catch (e) {}
      if (options.honorGpc && win.navigator.globalPrivacyControl) {
        consent = { ...consent, marketing: false, sharing: false };
      }
      queue = new Queue(local, "cdp_queue", options.queueSize);
      if (allowed()) {
        anonymousId = cookie.get(ANON) || local.get(ANON);
        userId = local.get(USER);
        signature = local.get(SIGNATURE);
      } else queue.clear();
      win.addEventListener("pagehide", safe(pageHidden));
      win.document.addEventListener(
        "visibilitychange",
        safe(() => win.document.visibilityState == "hidden" && pageHidden()),
      );
      if (queue.items.length) schedule(0); // what a previous page could not send
    },
    page(name, properties = {}) {
      enqueue("page", { ...(name ? { name } : {}), properties });
    },
    track(event, properties = {}) {
      enqueue("track", { event, properties });
    },
    identify(id, traits = {}, extra = {}) {
      if (id) userId = String(id);
      if (extra.signature) signature = extra.signature;
      remember();
      enqueue("identify", { traits });
    },
    alias(id, previousId) {
      enqueue("alias", { userId: String(id), previousId: previousId || userId || anonymousId });
    },
    group(groupId, traits = {}) {
      enqueue("group", { groupId: String(groupId), traits });
    },
    reset() {
      userId = signature = undefined;
      anonymousId = uuid();
      remember();
    },
    consent(choices) {
      const before = allowed();
      consent = { ...consent, ...choices };
      local.set(CONSENT, JSON.stringify(consent));
      // A change of mind is an event too; a "no" is sent once, then nothing more is.
      enqueue("track", { event: "Consent Updated", properties: { ...choices } }, before);
      if (before && !allowed()) {
        flush();
        forget();
      }
    },
    who() {
      return userId
        ? { userId, ...(signature ? { signature } : {}) }
        : { anonymousId: anonymousId || (anonymousId = uuid()) };
    },
    // Forms live in a second file, loaded only on pages that use them (the tracker on
    // every page stays small).
    ask(...args) {
      forms().then((m) => m.ask(internals, ...args));
    },
    bind(...args) {
      forms().then((m) => m.bind(internals, ...args));
    },
  };

  const internals = {
    win,
    url,
    who: () => {
      if (allowed()) ensureIdentity();
      return api.who();
    },
    writeKey: () => writeKey,
    fetch: (...args) => (options.fetch || fetch)(...args),
    consented(choices) {
      consent = { ...consent, ...choices };
      local.set(CONSENT, JSON.stringify(consent));
    },
  };
  let loading;
  // A page that loaded the tracker before a deploy asks for a version that is gone: then the
  // stable path, which always holds the current one.
  const forms = () =>
    (loading = loading || import(url(FORMS)).catch(() => import(url("/v1/cdp-forms.js"))));

  for (const name of Object.keys(api)) api[name] = safe(api[name]);
  return api;
}

export function install(win = window) {
  const stub = win.cdp;
  if (stub && !Array.isArray(stub.q)) return; // already installed
  const api = create(win);
  win.cdp = api;
  for (const [name, args] of stub?.q || []) api[name]?.(...args);
}
