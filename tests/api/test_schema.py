"""Schemathesis over the OpenAPI document, once per role: no 5xx, answers that match the schema."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode, checks

from layers.store.settings import Settings
from tests.factories import serve, token_for

ROLES = ("anonymous", "citizen", "governor", "analyst", "admin")
# No 5xx, documented status codes, responses and content types that match the schema.
CHECKS = [
    checks.not_a_server_error,
    checks.status_code_conformance,
    checks.response_schema_conformance,
    checks.content_type_conformance,
]
#: Seconds a request may take: these tests check answers, not speed (bench/ does). Schemathesis's
#: own 10 s failed a national water map (area="") on a loaded two-core machine.
TIMEOUT = 300


@pytest.fixture(scope="module")
def served(analysis_settings: Settings) -> Iterator[tuple[httpx.Client, dict[str, str]]]:
    assert analysis_settings.database_url is not None
    url = analysis_settings.database_url
    tokens = {
        "citizen": token_for(url, "citizen", area="341901", household="H-none"),
        "governor": token_for(url, "governor", area="34"),
        "analyst": token_for(url, "analyst"),
        "admin": token_for(url, "admin"),
    }
    with serve(analysis_settings) as client:
        yield client, tokens


@pytest.mark.parametrize("role", ROLES)
def test_api_conforms_for_every_role(
    role: str, served: tuple[httpx.Client, dict[str, str]]
) -> None:
    client, tokens = served
    headers = {"Authorization": f"Bearer {tokens[role]}"} if role in tokens else {}
    schema = schemathesis.openapi.from_dict(client.get("/openapi.json").json())
    base_url = str(client.base_url)
    for result in schema.get_all_operations():
        operation = result.ok()

        @settings(
            max_examples=6,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            derandomize=True,
            database=None,
        )
        @given(case=operation.as_strategy())
        def check(case: Any) -> None:
            case.call_and_validate(
                base_url=base_url, headers=headers, checks=CHECKS, timeout=TIMEOUT
            )

        check()


#: What outside testers sent into parameters: NUL bytes and other control characters, integers
#: past 64 bits, non-finite and overflowing floats, very long text.
HOSTILE = (
    "\x00",
    "34\x00",
    "a\x1fb",
    str(2**63),
    str(-(2**63) - 1),
    "1e309",
    "-inf",
    "nan",
    "-inf,-inf,inf,inf",
    "9" * 400,
)


def test_hostile_values_in_any_parameter_never_answer_5xx(
    served: tuple[httpx.Client, dict[str, str]],
) -> None:
    """Each operation, a valid request, then one of its parameters replaced by a hostile value:
    a 4xx, never a 5xx (Schemathesis's own generation rarely reaches these values)."""
    client, tokens = served
    document = client.get("/openapi.json").json()
    schema = schemathesis.openapi.from_dict(document)
    headers = {"Authorization": f"Bearer {tokens['admin']}"}
    base_url = str(client.base_url)
    failures: list[str] = []
    for result in schema.get_all_operations():
        operation = result.ok()
        declared = [
            (p["in"], p["name"])
            for p in document["paths"][operation.path][operation.method.lower()].get(
                "parameters", []
            )
            if p["in"] in ("query", "path")
        ]
        if not declared:
            continue

        @settings(
            max_examples=len(declared) * len(HOSTILE),
            deadline=None,
            suppress_health_check=list(HealthCheck),
            derandomize=True,
            database=None,
        )
        @given(
            case=operation.as_strategy(),
            where=st.sampled_from(declared),
            value=st.sampled_from(HOSTILE),
        )
        def check(case: Any, where: tuple[str, str], value: str) -> None:
            location, name = where
            if location == "query":
                case.query = {**(case.query or {}), name: value}
            else:
                case.path_parameters = {**(case.path_parameters or {}), name: value}
            response = case.call(base_url=base_url, headers=headers, timeout=TIMEOUT)
            if response.status_code >= 500:
                failures.append(
                    f"{case.operation.label} {location} {name}={value[:20]!r}: "
                    f"{response.status_code} {response.text[:120]}"
                )

        check()
    assert not failures, "\n".join(sorted(set(failures)))


def test_data_outside_the_schema_is_refused_without_5xx(
    served: tuple[httpx.Client, dict[str, str]],
) -> None:
    """Schemathesis's negative mode (values the schema forbids) as an administrator."""
    client, tokens = served
    headers = {"Authorization": f"Bearer {tokens['admin']}"}
    schema = schemathesis.openapi.from_dict(client.get("/openapi.json").json())
    base_url = str(client.base_url)
    for result in schema.get_all_operations():
        operation = result.ok()

        @settings(
            max_examples=8,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            derandomize=True,
            database=None,
        )
        @given(case=operation.as_strategy(generation_mode=GenerationMode.NEGATIVE))
        def check(case: Any) -> None:
            case.call_and_validate(
                base_url=base_url,
                headers=headers,
                checks=[checks.not_a_server_error],
                timeout=TIMEOUT,
            )

        with contextlib.suppress(Unsatisfiable):  # nothing of it can be made invalid
            check()
