"""Debian's Chromium driven by Playwright, for the tests of pages: kept off every network but
the app's."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from playwright.sync_api import Browser, BrowserContext, Page, Route

CHROMIUM = Path("/usr/bin/chromium")
# As root Chromium needs --no-sandbox; the rest keeps it off the network it would call home to.
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def watch(page: Page) -> list[str]:
    """Console errors and uncaught exceptions of the page, as they come."""
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    return errors


def app_only(
    browser: Browser, origin: str, token: str | None = None, **options: Any
) -> tuple[BrowserContext, list[str]]:
    """A browser context (sending ``token``, if given; with Playwright's context ``options``)
    that reaches the app at ``origin`` and nothing else, and the list of the other URLs it was
    asked for."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    context = browser.new_context(extra_http_headers=headers, **options)
    outside: list[str] = []

    def only_the_app(route: Route) -> None:
        if route.request.url.startswith(origin):
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    context.route("**/*", only_the_app)
    return context, outside
