// The console API: JSON over fetch with the ID token as a bearer token (never a cookie, so a
// request another site makes carries no credential). A 401 means the token is gone or
// expired: the person signs in again and comes back to where they were.
import { forget, signIn, token, worthSigningInAgain } from "./auth.js";

export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

let signInConfig = null;

export function useSignIn(config) {
  signInConfig = config;
}

/** GET /console/api/<path>?<params>; answers the JSON, throws ApiError with a message for people. */
export async function get(path, params = {}) {
  const url = new URL(`/console/api/${path}`, location.origin);
  for (const [name, value] of Object.entries(params)) {
    if (value !== null && value !== undefined && value !== "") url.searchParams.set(name, value);
  }
  const bearer = token();
  if (bearer === null) return signInAgain();
  let response;
  try {
    response = await fetch(url, {
      headers: { Authorization: `Bearer ${bearer}`, Accept: "application/json" },
    });
  } catch {
    throw new ApiError(
      0,
      "The console could not reach the platform. Check the connection and try again.",
    );
  }
  if (response.status === 401) {
    if (worthSigningInAgain()) return signInAgain();
    throw new ApiError(
      401,
      "You are signed in, but the platform refused the sign-in. Sign out and in again.",
    );
  }
  const body = await response.json().catch(() => null);
  if (!response.ok) {
    const message =
      body && typeof body.message === "string"
        ? body.message
        : `The platform answered ${response.status}.`;
    throw new ApiError(response.status, message);
  }
  return body;
}

function signInAgain() {
  forget();
  signIn(signInConfig);
  return new Promise(() => {}); // the page is leaving
}
