// The console page: signs the person in, draws the frame (who is signed in, the views) and
// routes each /console/... URL to its view. Every view is a URL; links and forms move with
// history.pushState, and the server answers every /console/... path with this same page.
import { get, useSignIn } from "./api.js";
import {
  finishSignIn,
  forget,
  isCallback,
  signIn,
  SignInError,
  signOutUrl,
  token,
} from "./auth.js";
import { auditView } from "./audit.js";
import { h, replace } from "./dom.js";
import { profileView } from "./profile.js";
import { searchView } from "./search.js";

// Views not every visit needs come in chunks of their own, loaded when first opened.
const segments = () => import("./segments.js");
const forms = () => import("./forms.js");
const live = () => import("./live.js");
const overview = () => import("./overview.js");

const ROUTES = [
  [/^\/console\/?$/, later(overview, "overviewView", "Overview")],
  [/^\/console\/profiles\/?$/, searchView],
  [/^\/console\/profiles\/([^/]+)\/?$/, profileView],
  [/^\/console\/segments\/?$/, later(segments, "segmentsView", "Segments")],
  [/^\/console\/segments\/([^/]+)\/?$/, later(segments, "segmentView", "Segment")],
  [/^\/console\/forms\/?$/, later(forms, "formsView", "Forms")],
  [/^\/console\/forms\/([^/]+)\/?$/, later(forms, "formView", "Form")],
  [/^\/console\/sources\/?$/, later(() => import("./sources.js"), "sourcesView", "Sources")],
  [/^\/console\/live(?:\/([^/]+))?\/?$/, later(live, "liveView", "Live events")],
  [/^\/console\/audit\/?$/, auditView],
];

const root = document.getElementById("app");
let main;
let nav;
let session;

async function start() {
  const answer = await fetch("/console/api/config", {
    headers: { Accept: "application/json" },
  }).catch(() => null);
  if (!answer || !answer.ok)
    return problem(
      "The console could not load its sign-in settings. Reload the page to try again.",
    );
  const config = await answer.json();
  useSignIn(config);
  if (isCallback()) {
    try {
      history.replaceState(null, "", await finishSignIn(config));
    } catch (error) {
      if (!(error instanceof SignInError)) throw error;
      return problem(
        error.message,
        h(
          "button",
          { type: "button", onclick: () => signIn(config, "/console/profiles") },
          "Sign in again",
        ),
      );
    }
  }
  if (token() === null) return signIn(config);
  try {
    session = await get("session");
  } catch (error) {
    return problem(
      error.message,
      h("a", { href: signOutUrl(config), onclick: forget }, "Sign out"),
    );
  }
  frame(config);
  addEventListener("popstate", () => show(false));
  document.addEventListener("click", followLink);
  show(false);
}

function frame(config) {
  main = h("main", { id: "main", tabindex: "-1" });
  const views = [
    ["/console", "Overview"],
    ["/console/profiles", "Profiles"],
    ["/console/segments", "Segments"],
    ["/console/forms", "Forms"],
    ["/console/sources", "Sources"],
    ["/console/live", "Live events"],
  ];
  if (session.abilities.includes("read_audit")) views.push(["/console/audit", "Audit log"]);
  nav = h(
    "nav",
    { "aria-label": "Console" },
    h(
      "ul",
      {},
      views.map(([href, label]) => h("li", {}, h("a", { href }, label))),
    ),
  );
  replace(
    root,
    h("a", { class: "skip", href: "#main" }, "Skip to the content"),
    h(
      "header",
      { class: "top" },
      h("a", { class: "brand", href: "/console" }, "CDP console"),
      nav,
      h(
        "p",
        { class: "who" },
        "Signed in as ",
        h("strong", { class: "name" }, session.name),
        " ",
        h("span", { class: "role" }, session.role),
        " ",
        h("a", { href: signOutUrl(config), onclick: forget }, "Sign out"),
      ),
    ),
    main,
  );
}

/** Shows the view of the current URL; `focus` moves focus to it (after a navigation). */
function show(focus) {
  const path = location.pathname;
  for (const link of nav.querySelectorAll("a")) {
    const href = link.getAttribute("href");
    // The overview (/console) is current on its own path only, not on every view under it.
    const current =
      path.replace(/\/$/, "") === href || (href !== "/console" && path.startsWith(`${href}/`));
    if (current) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  // Each view draws into a fresh element: an answer that arrives after the person moved on
  // lands in one that is no longer on the page.
  const view = h("div", { class: "view" });
  replace(main, view);
  let title = "Not found";
  const route = ROUTES.find(([pattern]) => pattern.test(path));
  if (route) {
    const [pattern, render] = route;
    const shown = render(view, {
      match: path.match(pattern),
      params: new URLSearchParams(location.search),
      session,
      navigate,
    });
    if (!shown) return; // it moved on
    title = shown.title;
  } else {
    replace(
      view,
      h("h1", {}, "Not found"),
      h(
        "p",
        {},
        "The console has no such page. ",
        h("a", { href: "/console/profiles" }, "Find a profile"),
        ".",
      ),
    );
  }
  document.title = `${title} · CDP console`;
  const heading = view.querySelector("h1");
  if (focus && heading) {
    heading.tabIndex = -1; // focusable by script only, so a screen reader starts at the view
    heading.focus();
  }
}

/** A view from a chunk: its title at once, the view when the chunk has come. */
function later(load, name, title) {
  return (view, context) => {
    const heading = h("h1", {}, title);
    replace(view, heading, h("p", { role: "status", class: "status" }, "Loading…"));
    load().then(
      (module) => {
        if (!view.isConnected) return; // the person moved on
        const focused = document.activeElement === heading;
        const shown = module[name](view, context);
        if (shown && document.title.startsWith(`${title} ·`))
          document.title = `${shown.title} · CDP console`;
        const drawn = view.querySelector("h1");
        if (focused && drawn) {
          drawn.tabIndex = -1;
          drawn.focus();
        }
      },
      () =>
        replace(
          view,
          heading,
          h("p", { role: "alert", class: "error" }, "This view could not be loaded. Reload the page to try again."),
        ),
    );
    return { title };
  };
}

export function navigate(url, { replace: instead = false } = {}) {
  if (instead) history.replaceState(null, "", url);
  else history.pushState(null, "", url);
  show(!instead);
}

function followLink(event) {
  if (
    event.defaultPrevented ||
    event.button !== 0 ||
    event.metaKey ||
    event.ctrlKey ||
    event.shiftKey ||
    event.altKey
  )
    return;
  const link = event.target.closest("a[href]");
  if (!link || link.target || link.hasAttribute("download")) return;
  const href = link.getAttribute("href");
  if (
    (href !== "/console" && !href.startsWith("/console/")) ||
    href.startsWith("/console/api/") ||
    href.startsWith("/console/assets/")
  )
    return;
  event.preventDefault();
  navigate(href);
}

function problem(message, ...actions) {
  replace(
    root,
    h(
      "main",
      { id: "main" },
      h("h1", {}, "CDP console"),
      h("p", { role: "alert", class: "error" }, message),
      actions.length ? h("p", {}, actions) : null,
    ),
  );
}

start().catch((error) => problem(`The console stopped: ${error.message}`));
