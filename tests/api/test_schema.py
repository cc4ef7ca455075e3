"""Schemathesis over the OpenAPI document, once per role: no 5xx, answers that match the schema."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import checks

from layers.settings import Settings
from tests.conftest import serve, token_for

ROLES = ("anonymous", "citizen", "governor", "analyst", "admin")
# No 5xx, documented status codes, responses and content types that match the schema.
CHECKS = [
    checks.not_a_server_error,
    checks.status_code_conformance,
    checks.response_schema_conformance,
    checks.content_type_conformance,
]


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
            case.call_and_validate(base_url=base_url, headers=headers, checks=CHECKS)

        check()
