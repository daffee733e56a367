// Pieces every view that names people shares.
import { h } from "./dom.js";
import { profilePath } from "./format.js";

// The identity a person is best known by, first found first.
const NAMING = ["email", "user_id", "phone"];

export function displayName(identities, profileId) {
  for (const type of NAMING) {
    const found = identities.find((identity) => identity.type === type);
    if (found) return found.value;
  }
  return identities.length ? identities[0].value : profileId;
}

/**
 * A link to a person's profile. It goes by the profile id, which names no one: a URL ends up
 * in browser history, chat messages and server logs, and an e-mail address should not.
 */
export function personLink(profileId, identities = []) {
  return h("a", { href: profilePath("profile_id", profileId) }, displayName(identities, profileId));
}

export function mayViewPersonalData(session) {
  return session.abilities.includes("view_personal_data");
}

/** Said on every view that shows people to someone who may not see who they are. */
export function maskedNotice(session, masked = !mayViewPersonalData(session)) {
  if (!masked) return null;
  return h(
    "div",
    { class: "notice", role: "note" },
    h(
      "p",
      {},
      h("strong", {}, "Personal data is hidden."),
      ` You are signed in as a ${session.role}: identifiers and personal traits are masked (such as a•••@e•••.com). Counts, times, segments and consent are shown.`,
    ),
  );
}
