// /console/profiles?q=...: find a person by any identifier. The query lives in the URL, so a
// search can be shared and the back button returns to it.
import { get } from "./api.js";
import { h, replace, table } from "./dom.js";
import { count, time } from "./format.js";
import { maskedNotice, personLink } from "./people.js";

export async function searchView(view, { params, session, navigate }) {
  const query = params.get("q") || "";
  const input = h("input", {
    id: "q",
    name: "q",
    type: "search",
    value: query,
    autocomplete: "off",
    spellcheck: "false",
    "aria-describedby": "q-help",
  });
  const form = h(
    "form",
    {
      role: "search",
      class: "search",
      onsubmit: (event) => {
        event.preventDefault();
        const text = input.value.trim();
        navigate(text ? `/console/profiles?q=${encodeURIComponent(text)}` : "/console/profiles");
      },
    },
    h("label", { for: "q" }, "Find a person"),
    h(
      "p",
      { id: "q-help", class: "help" },
      "An e-mail address, user id, anonymous id, phone number or profile id; or type:value, such as ga_client_id:123.",
    ),
    h("div", { class: "row" }, input, h("button", { type: "submit" }, "Search")),
  );
  const status = h("p", { role: "status", class: "status" });
  const results = h("div", { class: "results" });
  replace(view, h("h1", {}, "Profiles"), form, maskedNotice(session), status, results);
  if (!query) return { title: "Profiles" };

  status.textContent = "Searching…";
  get("search", { q: query }).then(
    ({ matches }) => {
      status.textContent = matches.length
        ? `${count(matches.length, "profile")} match “${query}”.`
        : `No profile has the identifier “${query}”.`;
      if (!matches.length) return;
      replace(
        results,
        table(
          `Profiles matching “${query}”`,
          ["Person", "Identities", "First seen", "Last seen", "Events", "Segments"],
          matches.map((match) => [
            personLink(match.profile_id, match.identities),
            h(
              "ul",
              { class: "plain" },
              match.identities.map((identity) =>
                h("li", {}, h("span", { class: "kind" }, identity.type), " ", identity.value),
              ),
            ),
            time(match.first_seen),
            time(match.last_seen),
            count(match.event_count, "event"),
            match.segments.length
              ? match.segments.join(", ")
              : h("span", { class: "muted" }, "none"),
          ]),
        ),
      );
    },
    (error) => {
      status.textContent = "";
      replace(results, h("p", { role: "alert", class: "error" }, error.message));
    },
  );
  return { title: `Profiles matching “${query}”` };
}
