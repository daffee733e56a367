// Signing in: the authorization code flow with PKCE (S256) against the Hosted UI (in `cdp dev`,
// its local stand-in). No client secret; the page keeps only the ID token, which the API's
// JWT authorizer checks on every request.

const PENDING = "cdp-console.sign-in"; // verifier, state and the URL wanted, across the redirect
const TOKEN = "cdp-console.token";
const CALLBACK = "/console/callback";
const FRESH_MS = 10_000; // a token refused this soon after it was issued is not retried

let held = null; // { idToken, expiresAt, obtainedAt }

export class SignInError extends Error {}

export const callbackUrl = () => `${location.origin}${CALLBACK}`;
export const isCallback = () => location.pathname === CALLBACK;

/** The ID token, if one is held and has not expired. */
export function token() {
  if (held === null) {
    // The token is also kept in sessionStorage so that a reload (or a link opened in the same
    // tab) does not send the person through the sign-in form again: memory alone is lost with
    // every page load. sessionStorage is this tab's only, gone when the tab closes, and read
    // by this origin's scripts only, which the CSP limits to our own bundle (no inline or
    // third-party script). The token lasts an hour, and signing out removes it.
    try {
      held = JSON.parse(sessionStorage.getItem(TOKEN) || "null");
    } catch {
      held = null;
    }
  }
  if (held && held.expiresAt > Date.now() + 30_000) return held.idToken;
  forget();
  return null;
}

export function forget() {
  held = null;
  sessionStorage.removeItem(TOKEN);
}

/** Whether a 401 for this token should send the person to sign in again (else: a loop). */
export function worthSigningInAgain() {
  return !(held && Date.now() - held.obtainedAt < FRESH_MS);
}

/** Sends the browser to the sign-in form; it comes back to /console/callback. */
export async function signIn(config, wanted = location.pathname + location.search) {
  const verifier = randomText(32);
  const state = randomText(16);
  sessionStorage.setItem(PENDING, JSON.stringify({ verifier, state, wanted: safeTarget(wanted) }));
  const url = new URL(config.authorize_url);
  url.search = new URLSearchParams({
    response_type: "code",
    client_id: config.client_id,
    redirect_uri: callbackUrl(),
    scope: config.scope,
    state,
    code_challenge: await challengeOf(verifier),
    code_challenge_method: "S256",
  }).toString();
  location.assign(url.toString());
}

/**
 * At /console/callback: the code for tokens, once. Answers the URL the person wanted.
 * Throws SignInError with a message for people when the answer cannot be used.
 */
export async function finishSignIn(config) {
  const answer = new URLSearchParams(location.search);
  const pending = JSON.parse(sessionStorage.getItem(PENDING) || "null");
  sessionStorage.removeItem(PENDING);
  if (answer.get("error")) {
    throw new SignInError(
      `Sign-in failed: ${answer.get("error_description") || answer.get("error")}.`,
    );
  }
  if (!pending || !answer.get("code") || answer.get("state") !== pending.state) {
    throw new SignInError("This sign-in answer does not belong to a sign-in started here.");
  }
  const response = await fetch(config.token_url, {
    method: "POST",
    headers: { "Content-Type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({
      grant_type: "authorization_code",
      code: answer.get("code"),
      client_id: config.client_id,
      redirect_uri: callbackUrl(),
      code_verifier: pending.verifier,
    }),
  });
  if (!response.ok) {
    throw new SignInError("The sign-in could not be completed (the code was refused or expired).");
  }
  const tokens = await response.json();
  const now = Date.now();
  held = {
    idToken: tokens.id_token,
    expiresAt: now + Number(tokens.expires_in || 3600) * 1000,
    obtainedAt: now,
  };
  sessionStorage.setItem(TOKEN, JSON.stringify(held));
  return pending.wanted;
}

/** Where the sign-out link goes: the Hosted UI's logout, which comes back to the console. */
export function signOutUrl(config) {
  const url = new URL(config.logout_url);
  url.search = new URLSearchParams({
    client_id: config.client_id,
    logout_uri: `${location.origin}/console`,
  }).toString();
  return url.toString();
}

/** Only a path of the console itself, so a crafted link cannot send people elsewhere. */
export function safeTarget(wanted) {
  return typeof wanted === "string" &&
    /^\/console(\/|\?|$)/.test(wanted) &&
    !wanted.startsWith(CALLBACK)
    ? wanted
    : "/console/profiles";
}

function randomText(bytes) {
  return base64url(crypto.getRandomValues(new Uint8Array(bytes)));
}

export async function challengeOf(verifier) {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier));
  return base64url(new Uint8Array(digest));
}

function base64url(bytes) {
  let text = "";
  for (const byte of bytes) text += String.fromCharCode(byte);
  return btoa(text).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}
