"""The seeded world of the access tests, and the browser of the page tests."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Browser, sync_playwright

from layers.store.settings import Settings
from tests.api.browser import ARGS, CHROMIUM
from tests.api.oracle import make_world


@pytest.fixture(scope="session")
def world(analysis_settings: Settings) -> dict[str, Any]:
    assert analysis_settings.database_url is not None
    return make_world(analysis_settings.database_url)


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        pytest.fail(f"no Chromium at {CHROMIUM}: `make browser` installs it")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield launched
        launched.close()
