"""The seeded world of the access tests, shared by their modules."""

from __future__ import annotations

from typing import Any

import pytest

from layers.settings import Settings
from tests.api.oracle import make_world


@pytest.fixture(scope="session")
def world(analysis_settings: Settings) -> dict[str, Any]:
    assert analysis_settings.database_url is not None
    return make_world(analysis_settings.database_url)
