// The console API: JSON over fetch with the ID token as a bearer token (never a cookie, so a
// request another site makes carries no credential). A 401 means the token is gone or
// expired: the person signs in again and comes back to where they were.
import { forget, signIn, token, worthSigningInAgain } from "./auth.js";

export class ApiError extends Error {
  /** `fields` maps a field's path (`condition.all[0].gte`) to what is wrong with it. */
  constructor(status, message, { code = null, fields = null } = {}) {
    super(message);
    this.status = status;
    this.code = code;
    this.fields = fields;
  }
}

let signInConfig = null;

export function useSignIn(config) {
  signInConfig = config;
}

/** GET /console/api/<path>?<params>; answers the JSON, throws ApiError with a message for people. */
export const get = (path, params) => request("GET", path, { params });

/** POST, PUT or DELETE with a JSON body (or none). */
export const send = (method, path, body, params) => request(method, path, { body, params });

async function request(method, path, { params = {}, body } = {}) {
  const url = new URL(`/console/api/${path}`, location.origin);
  for (const [name, value] of Object.entries(params || {})) {
    if (value !== null && value !== undefined && value !== "") url.searchParams.set(name, value);
  }
  const bearer = token();
  if (bearer === null) return signInAgain();
  const headers = { Authorization: `Bearer ${bearer}`, Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  let response;
  try {
    response = await fetch(url, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
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
  const answer = await response.json().catch(() => null);
  if (!response.ok) throw refusal(response.status, answer);
  return answer;
}

/** The platform's refusal, `{code, message, fields?}`, at the top level or under `error`. */
export function refusal(status, answer) {
  const said = answer && typeof answer.error === "object" && answer.error ? answer.error : answer;
  const message =
    said && typeof said.message === "string" ? said.message : `The platform answered ${status}.`;
  const fields = said && said.fields && typeof said.fields === "object" ? said.fields : null;
  return new ApiError(status, message, { code: said ? said.code : null, fields });
}

function signInAgain() {
  forget();
  signIn(signInConfig);
  return new Promise(() => {}); // the page is leaving
}
