"""Schemathesis on the OpenAPI descriptions of the Profile, admin and privacy APIs. For every
operation it generates requests from the description — valid ones, invalid ones, and valid
ones aimed at the person, segment, form, source and webhook the stack holds — and sends them
with the secret key through the local API Gateway to the deployed handler.

Every answer must be what the description says (a documented status, content type and body),
below 500, free of internal detail, and, when it refuses, a JSON message a person can read;
invalid data is refused, and a refused request changes nothing stored. Each operation has a
stack of its own, so the ones that delete or disable take nothing away from the others.

With CDP_FUZZ_REPORT set, each operation appends its statuses to that file (JSON lines).
"""

from __future__ import annotations

import importlib
import json
import os
from collections import Counter
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.strategies import SearchStrategy
from schemathesis import APIOperation, Case, GenerationMode, checks
from schemathesis.errors import FailureGroup

from cdp import __version__
from cdp.runtime.web import secret_key_openapi
from infra.wiring import FUNCTIONS
from tests.reliability.conftest import INTERNAL_DETAIL, SEGMENT, Answer, Stack, bearer
from tests.reliability.routes import BY_FUNCTION, Route
from tests.reliability.test_hostile_input import _refusal_problems

APIS = ("profile_api", "admin_api", "privacy_api")
OPERATIONS: tuple[Route, ...] = tuple(
    sorted(
        (route for api in APIS for route in BY_FUNCTION[api] if route.credential == "secret"),
        key=lambda route: route.destructive,
    )
)
"""Every route of the three APIs but the OpenAPI document itself; those that delete or
disable last."""
EXAMPLES = 60
BASE_URL = "http://api.shop.example"
CHECKS = (
    checks.not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_schema_conformance,
    checks.negative_data_rejection,
)
"""Schemathesis's checks these APIs are meant to pass. Not `positive_data_acceptance`: a
description cannot say everything a valid request needs (an identity is `type:value`, a
definition has the id of its path, a segment's condition must compile), so a request valid by
the schema may rightly be refused."""
REPORT = os.environ.get("CDP_FUZZ_REPORT")


def description(stack: Stack, api: str) -> dict[str, Any]:
    """The OpenAPI description of `api`: the one the Profile API serves, and for the admin
    and privacy APIs the one their app generates the same way."""
    if api == "profile_api":
        answer = stack.request("GET", "/v1/openapi.json")
        assert answer.status == 200, answer.body
        document: dict[str, Any] = answer.json()
        return document
    spec = next(spec for spec in FUNCTIONS if spec.name == api)
    module = importlib.import_module(spec.handler.rpartition(".")[0])
    return secret_key_openapi(module._app(), title=api, version=__version__, description=api)


def cases(
    operation: APIOperation, route: Route, credential: dict[str, str]
) -> SearchStrategy[Case]:
    """The route's own sample (the simplest branch), then generated requests, valid and
    invalid, free and aimed at what the stack holds. The credential is given, not generated:
    every request reaches the code behind it."""
    sample = route.sample
    exact = {"path_parameters": sample.params, "query": sample.query, "body": sample.body}
    aimed = {"path_parameters": sample.params} if sample.params else {}
    return st.one_of(
        operation.as_strategy(
            headers=credential, **{name: value for name, value in exact.items() if value}
        ),
        *(
            operation.as_strategy(generation_mode=mode, headers=credential, **aimed)
            for mode in GenerationMode
            if aimed
        ),
        *(
            operation.as_strategy(generation_mode=mode, headers=credential)
            for mode in GenerationMode
        ),
    ).map(_named_as_its_path)


def _named_as_its_path(case: Case) -> Case:
    """A valid generated definition gets the id its path gives it (`PUT /v1/forms/x` with
    `{"id": "x", ...}`), so it gets past the first check of the route."""
    valid = case.meta is not None and case.meta.generation.mode is GenerationMode.POSITIVE
    if not valid or not isinstance(case.body, dict) or len(case.path_parameters) != 1:
        return case
    ((name, value),) = case.path_parameters.items()
    key = name if name in case.body else "id"
    if key in case.body:
        case.body = {**case.body, key: unquote(str(value))}
    return case


def exchange(stack: Stack, case: Case) -> tuple[requests.PreparedRequest, Answer]:
    """Send `case` as an HTTP client would (Schemathesis's own serialization, prepared by
    requests)."""
    request = requests.Request(**case.as_transport_kwargs(base_url=BASE_URL)).prepare()
    url = urlsplit(request.url)
    answer = stack.request(
        case.method, url.path, body=request.body, headers=dict(request.headers), query=url.query
    )
    return request, answer


def problems_with(
    stack: Stack,
    case: Case,
    request: requests.PreparedRequest,
    answer: Answer,
    before: tuple[dict[str, int], str],
) -> list[str]:
    """What is wrong with how `case` was answered (nothing, ideally); `before` is what was
    stored before it."""
    where = f"{case.method} {request.path_url} -> {answer.status}"
    found = [] if answer.routed else ["matched no route"]  # path parameters are never empty
    response = schemathesis.Response(
        status_code=answer.status,
        headers={name: [value] for name, value in answer.headers.items()},
        content=answer.body,
        request=request,
        elapsed=0.0,
        verify=True,
    )
    try:
        case.validate_response(response, checks=list(CHECKS))
    except FailureGroup as failures:
        found.append(str(failures))
    text = answer.body.decode("utf-8", errors="replace")
    leak = INTERNAL_DETAIL.search(text) or INTERNAL_DETAIL.search(json.dumps(answer.headers))
    if leak:
        found.append(f"shows {leak.group(0)!r}: {text[:300]}")
    if answer.status >= 400:
        found += _refusal_problems(answer)
        if (stack.counts(), stack.fingerprint()) != before:
            found.append("was refused but changed what is stored")
    return [f"{where}: {problem}" for problem in found]


def test_the_descriptions_cover_every_route_with_the_answers_it_gives(stack: Stack) -> None:
    for api in APIS:
        document = description(stack, api)
        described = {f"{method.upper()} {path}" for path, item in document["paths"].items()
                     for method in item}  # fmt: skip
        assert described == {route.key for route in OPERATIONS if route.function == api}
        for operation in (op for item in document["paths"].values() for op in item.values()):
            # Powertools documents a 422 by default; these APIs refuse with a 400.
            assert "422" not in operation["responses"]
            assert {"400", "401", "404"} <= set(operation["responses"])
        assert document["security"] == [{"secretKey": []}]


@pytest.mark.parametrize("route", OPERATIONS, ids=lambda route: route.key)
def test_generated_requests(stack: Stack, route: Route) -> None:
    schema = schemathesis.openapi.from_dict(description(stack, route.function))
    operation = schema[route.template][route.method]
    seen: Counter[int] = Counter()

    @settings(
        max_examples=EXAMPLES,
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=[
            HealthCheck.too_slow,
            HealthCheck.filter_too_much,
            HealthCheck.data_too_large,
        ],
    )
    @given(case=cases(operation, route, bearer(stack.keys.secret)))
    def answers_as_described(case: Case) -> None:
        before = (stack.counts(), stack.fingerprint())
        request, answer = exchange(stack, case)
        seen[answer.status] += 1
        problems = problems_with(stack, case, request, answer, before)
        assert not problems, "\n".join(problems)

    answers_as_described()
    if REPORT:
        with Path(REPORT).open("a") as report:
            statuses = {str(status): count for status, count in sorted(seen.items())}
            report.write(json.dumps({"operation": route.key, "statuses": statuses}) + "\n")
    assert any(200 <= status < 300 for status in seen), f"nothing was accepted: {dict(seen)}"


# -- what it found, pinned -------------------------------------------------------------------


def test_a_cursor_before_the_first_member_lists_from_the_first(stack: Stack) -> None:
    # The segment's count item sorts before its members: `?cursor=%23` used to reach it (500).
    path, secret = f"/v1/segments/{SEGMENT['id']}/members", bearer(stack.keys.secret)
    everyone = stack.request("GET", path, headers=secret)
    assert everyone.status == 200
    assert len(everyone.json()["members"]) == 3  # the parents of the stack
    for cursor in ("#", "!", " ", "#count"):
        answer = stack.request("GET", path, headers=secret, query={"cursor": cursor})
        assert (answer.status, answer.json()) == (200, everyone.json())


def test_a_new_source_is_answered_as_described(stack: Stack) -> None:
    described = description(stack, "admin_api")["paths"]["/v1/sources"]["post"]["responses"]
    answer = stack.request(
        "POST", "/v1/sources", body={"name": "shop-app"}, headers=bearer(stack.keys.secret)
    )
    assert answer.status == 201  # documented as 200 before
    assert set(described) & {"200", "201"} == {"201"}
