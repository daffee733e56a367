"""Meta's Marketing API, customer list custom audiences (`/{audience_id}/users`), played
locally.

Kept as Meta keeps it: each custom audience's members, as the hashed keys it was given (a
removal takes out the people any of its keys match), and the upload sessions (batches in
order, closed by the last). Answered as the Graph API answers: `{"audience_id",
"session_id", "num_received", "num_invalid_entries", "invalid_entry_samples"}`, errors as
`{"error": {"message", "type", "code", "error_subcode", "fbtrace_id"}}` (OAuth errors for a
missing or wrong token, #100 for a bad parameter or an audience that does not exist, #2635 for
another API version than the app's), and the business use case rate limit (`rate_limited`:
code 80003 with `X-Business-Use-Case-Usage`).

Modelled beyond the reference's words: which entries are invalid. Meta counts as invalid an
entry it cannot use; here, a row without any value, a value that is not a SHA-256 hex digest
where the schema wants hashes, and any hash a test lists in `invalid` (with the reason).
"""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Iterable
from typing import Any

from tests.contracts.server import Answer, ContractServer, Received, Route

SINGLE_KEYS = ("EMAIL_SHA256", "PHONE_SHA256", "MOBILE_ADVERTISER_ID")
MULTI_KEYS = (
    "EXTERN_ID",
    "EMAIL",
    "PHONE",
    "GEN",
    "DOBY",
    "DOBM",
    "DOBD",
    "LN",
    "FN",
    "FI",
    "CT",
    "ST",
    "ZIP",
    "MADID",
    "COUNTRY",
    "LOOKALIKE_VALUE",
)
UNHASHED = ("EXTERN_ID", "MADID", "MOBILE_ADVERTISER_ID", "LOOKALIKE_VALUE")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")

# https://developers.facebook.com/docs/marketing-api/reference/custom-audience/users/
# (POST and DELETE take the same parameters: `payload` with `schema` (one key, or an array of
# keys for multi-key match) and `data` (at most 10,000 entries per call; two-dimensional for
# multi-key), and `session` for uploads in several calls: `session_id` (a 64-bit integer),
# `batch_seq` (from 1), `last_batch_flag`, `estimated_num_total`).
USERS_BODY: dict[str, Any] = {
    "type": "object",
    "required": ["payload"],
    "properties": {
        "payload": {
            "type": "object",
            "required": ["schema", "data"],
            "properties": {
                "schema": {
                    "oneOf": [
                        {"enum": list(SINGLE_KEYS)},
                        {
                            "type": "array",
                            "minItems": 1,
                            "uniqueItems": True,
                            "items": {"enum": list(MULTI_KEYS)},
                        },
                    ]
                },
                "is_raw": {"type": "boolean"},
                "data": {
                    "type": "array",
                    "minItems": 1,
                    "maxItems": 10_000,
                    "items": {
                        "oneOf": [
                            {"type": "string"},
                            {"type": "array", "items": {"type": ["string", "number"]}},
                        ]
                    },
                },
                "app_ids": {"type": "array", "items": {"type": ["integer", "string"]}},
                "page_ids": {"type": "array", "items": {"type": ["integer", "string"]}},
                "data_source": {"type": "object"},
            },
            "additionalProperties": False,
        },
        "session": {
            "type": "object",
            "required": ["session_id", "batch_seq", "last_batch_flag"],
            "properties": {
                "session_id": {"type": "integer", "minimum": 1, "maximum": 2**63 - 1},
                "batch_seq": {"type": "integer", "minimum": 1},
                "last_batch_flag": {"type": "boolean"},
                "estimated_num_total": {"type": "integer", "minimum": 0},
            },
            "additionalProperties": False,
        },
        "namespace": {"type": "string"},
    },
    "additionalProperties": False,
}


class MetaServer(ContractServer):
    def __init__(self, token: str, audiences: Iterable[str], *, version: str = "21.0") -> None:
        super().__init__()
        self.token = token
        self.version = version
        self.business_id = "1234567890"
        self.members: dict[str, set[tuple[str, str]]] = {a: set() for a in audiences}
        self.sessions: dict[int, dict[str, Any]] = {}
        self.invalid: dict[str, str] = {}  # hashes Meta reports as invalid, with the reason
        self._traces = itertools.count(1)
        self._session_ids = itertools.count(900_000_001)
        self.routes = [
            Route("POST", "/v{version}/{audience_id}/users", self._users, USERS_BODY),
            Route("DELETE", "/v{version}/{audience_id}/users", self._users, USERS_BODY),
        ]

    def reset(self, *, token: str | None = None) -> None:
        """As new, for the next test on the same running server (stopping one takes 0.5 s)."""
        self.token = token or self.token
        for members in self.members.values():
            members.clear()
        self.sessions.clear()
        self.invalid.clear()
        self.clear()

    # What the tests read.
    def holds(self, audience: str, *, email: str | None = None, phone: str | None = None) -> bool:
        """Whether the audience holds the person with this e-mail or phone hash."""
        tokens = {("EMAIL", email), ("PHONE", phone)}
        return bool(tokens & self.members[audience])

    def error(self, code: int, message: str, *, status: int = 400, **fields: Any) -> Answer:
        body = {
            "message": message,
            "type": "OAuthException",
            "code": code,
            **fields,
            "fbtrace_id": f"A{next(self._traces):010x}",
        }
        return Answer(status, {"error": body})

    def rate_limited(self, minutes: int = 1) -> Answer:
        """The custom audience business use case's limit, reached for the ad account."""
        answer = self.error(
            80003,
            "(#80003) There have been too many calls to this ad-account. Wait a bit and try "
            "again. For more info, please refer to "
            "https://developers.facebook.com/docs/graph-api/overview/rate-limiting.",
            error_subcode=2446079,
            is_transient=True,
        )
        usage = {
            self.business_id: [
                {
                    "type": "custom_audience",
                    "call_count": 100,
                    "total_cputime": 25,
                    "total_time": 25,
                    "estimated_time_to_regain_access": minutes,
                }
            ]
        }
        answer.headers["X-Business-Use-Case-Usage"] = json.dumps(usage)
        return answer

    # Meta's checks and answers.
    def authenticate(self, request: Received) -> Answer | None:
        header = request.headers.get("authorization", "")
        given = request.query.get("access_token", [""])[0]
        scheme, _, credential = header.partition(" ")
        if scheme in ("Bearer", "OAuth"):
            given = credential
        if not given:
            return self.error(104, "An access token is required to request this resource.")
        if given != self.token:
            return self.error(190, "Invalid OAuth access token - Cannot parse access token")
        if not request.headers.get("content-type", "").startswith("application/json"):
            self.violations.append("Content-Type must be application/json")
            return self.error(100, "(#100) The parameter payload is required")
        return None

    def refused(self, request: Received, reasons: list[str]) -> Answer:
        return self.error(100, f"(#100) {'; '.join(reasons)}")

    def _violation(self, reason: str) -> Answer:
        self.violations.append(reason)
        return self.error(100, f"(#100) {reason}")

    def _users(self, request: Received, parameters: dict[str, str]) -> Answer:
        audience, version = parameters["audience_id"], parameters["version"]
        if version != self.version:
            self.violations.append(f"version {version} is not the app's ({self.version})")
            return self.error(
                2635,
                "(#2635) You are calling a deprecated version of the Ads API. Please update "
                f"to the latest version: v{self.version}.",
            )
        if audience not in self.members:
            verb = "post" if request.method == "POST" else "delete"
            return self.error(
                100,
                f"Unsupported {verb} request. Object with ID '{audience}' does not exist, "
                "cannot be loaded due to missing permissions, or does not support this "
                "operation. Please read the Graph API documentation at "
                "https://developers.facebook.com/docs/graph-api",
                error_subcode=33,
                type="GraphMethodException",
            )
        body = request.json()
        payload = body["payload"]
        schema = payload["schema"]
        keys = [schema.removesuffix("_SHA256")] if isinstance(schema, str) else schema
        rows = []
        for entry in payload["data"]:
            if isinstance(schema, str) != isinstance(entry, str):
                return self._violation("data: one value per entry for one key, else an array")
            row = [entry] if isinstance(entry, str) else entry
            if len(row) != len(keys):
                return self._violation(f"data: {len(keys)} values per entry, as the schema")
            rows.append(row)
        session_id = self._session(audience, request.method, body.get("session"))
        if isinstance(session_id, Answer):
            return session_id
        invalid: dict[str, str] = {}
        for row in rows:
            reason = self._invalid(keys, row)
            if reason:
                invalid[next((str(v) for v in row if v), "")] = reason
                continue
            tokens = {(key, str(value)) for key, value in zip(keys, row, strict=True) if value}
            if request.method == "POST":
                self.members[audience] |= tokens
            else:
                self.members[audience] -= tokens
        return Answer(
            200,
            {
                "audience_id": audience,
                "session_id": str(session_id),
                "num_received": len(rows),
                "num_invalid_entries": len(invalid),
                "invalid_entry_samples": invalid,
            },
        )

    def _invalid(self, keys: list[str], row: list[Any]) -> str | None:
        if not any(row):
            return "no value"
        for key, value in zip(keys, row, strict=True):
            if not value or key in UNHASHED:
                continue
            if not _SHA256.match(str(value)):
                return f"{key} is not a SHA-256 hash"
            if value in self.invalid:
                return self.invalid[value]
        return None

    def _session(self, audience: str, method: str, session: Any) -> int | Answer:
        """A session's batches come in order, to one audience, one way, until the last."""
        if session is None:
            return next(self._session_ids)
        number = session["session_id"]
        seen = self.sessions.setdefault(
            number, {"audience": audience, "method": method, "batches": 0, "closed": False}
        )
        if (seen["audience"], seen["method"]) != (audience, method):
            return self._violation("session: another audience or operation than its first")
        if seen["closed"]:
            return self._violation("session: a batch after the last one")
        if session["batch_seq"] != seen["batches"] + 1:
            return self._violation(
                f"session: batch_seq {session['batch_seq']} after {seen['batches']}"
            )
        seen["batches"] += 1
        seen["closed"] = session["last_batch_flag"]
        return int(number)
