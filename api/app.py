"""The FastAPI application, built by a factory: nothing is created at import time."""

from __future__ import annotations

import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.openapi.docs import (
    get_redoc_html,
    get_swagger_ui_html,
    get_swagger_ui_oauth2_redirect_html,
)
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import sessionmaker

from api.assets import VENDOR_DIR, VENDOR_URL
from api.errors import RESPONSES, register_error_handlers
from api.pages import admin as admin_pages
from api.pages import areas as area_pages
from api.pages import cases as case_pages
from api.pages import citizens as citizen_pages
from api.pages import communities as community_pages
from api.pages import dashboard, home, login, viewer
from api.pages import imports as import_pages
from api.pages import records as record_pages
from api.routers import (
    areas,
    auth,
    cases,
    communities,
    density,
    enrolment,
    exports,
    geosocial,
    health,
    hotspots,
    households,
    imports,
    line,
    maps,
    ogc,
    open311,
    overlay,
    reports,
    search,
    stats,
    targeting,
    tiles,
)
from api.security import Guard, html_page
from api.web.render import STATIC_DIR, STATIC_URL, environment
from layers.delivery.features import FeatureCache
from layers.store.db import database_url, make_engine
from layers.store.settings import Settings
from layers.survey.imports import mark_interrupted

VERSION = "0.1.0"
log = logging.getLogger(__name__)


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the API. The database engine is opened at start-up and disposed at shutdown."""
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = make_engine(database_url(settings, start=False), settings)
        app.state.engine = engine
        app.state.sessionmaker = sessionmaker(engine, expire_on_commit=False)
        try:
            with engine.begin() as conn:
                # Jobs of a server that stopped (killed, or the machine went down) say so.
                mark_interrupted(conn)
        except OperationalError:
            log.warning("the database cannot be reached yet: /health will say so")
        # Everything loaded so far (GeoPandas, SQLAlchemy, ...) lives as long as the server: kept
        # out of the collector, a full collection no longer stalls a request by ~70 ms.
        gc.freeze()
        try:
            yield
        finally:
            engine.dispose()

    app = FastAPI(
        title="Bamrung",
        version=VERSION,
        summary="Household hardship in Thailand: boundaries, surveys, analysis, maps and cases.",
        lifespan=lifespan,
        responses=RESPONSES,
        docs_url=None,  # served below from the app's own copy of Swagger UI
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.templates = environment()
    app.state.features = FeatureCache()
    app.state.tiles = FeatureCache(size=4096)
    register_error_handlers(app)

    app.add_middleware(Guard, settings=settings)
    add_docs(app, settings)

    for pages in (
        home,
        login,
        dashboard,
        area_pages,
        viewer,
        record_pages,
        import_pages,
        case_pages,
        citizen_pages,
        community_pages,
        admin_pages,
    ):
        app.include_router(pages.router)
    app.include_router(health.router)
    app.include_router(areas.router)
    app.include_router(imports.router)
    for module in (
        auth,
        households,
        cases,
        stats,
        density,
        hotspots,
        overlay,
        targeting,
        geosocial,
        maps,
        exports,
        ogc,
        tiles,
        enrolment,
        reports,
        communities,
        line,
        open311,
        search,
    ):
        app.include_router(module.router)
    # The pinned npm packages (make setup installs them); absent, pages load without scripts.
    vendor = StaticFiles(directory=VENDOR_DIR, check_dir=False)
    app.mount(VENDOR_URL, vendor, name="vendor")
    app.mount(STATIC_URL, StaticFiles(directory=STATIC_DIR), name="app")
    return app


def add_docs(app: FastAPI, settings: Settings) -> None:
    """The interactive documentation at ``/docs`` (Swagger UI) and ``/redoc`` (ReDoc), from the
    app's own pinned copies (``swagger-ui-dist``, ``redoc`` in ``api/static/vendor``), never a
    CDN."""
    assets = f"{VENDOR_URL}/swagger-ui-dist"

    def docs(_request: Request) -> HTMLResponse:
        page = get_swagger_ui_html(
            openapi_url="/openapi.json",
            title="Bamrung — API",
            swagger_js_url=f"{assets}/swagger-ui-bundle.js",
            swagger_css_url=f"{assets}/swagger-ui.css",
            swagger_favicon_url=f"{assets}/favicon-32x32.png",
            oauth2_redirect_url="/docs/oauth2-redirect",
            swagger_ui_parameters={"validatorUrl": None},
        )
        return html_page(bytes(page.body).decode(), settings)

    def redirect(_request: Request) -> HTMLResponse:
        page = get_swagger_ui_oauth2_redirect_html()
        return html_page(bytes(page.body).decode(), settings)

    def redoc(_request: Request) -> HTMLResponse:
        page = get_redoc_html(
            openapi_url="/openapi.json",
            title="Bamrung — API",
            redoc_js_url=f"{VENDOR_URL}/redoc/bundles/redoc.standalone.js",
            redoc_favicon_url=f"{assets}/favicon-32x32.png",
            with_google_fonts=False,
        )
        return html_page(bytes(page.body).decode(), settings)

    app.add_route("/docs", docs, include_in_schema=False)
    app.add_route("/redoc", redoc, include_in_schema=False)
    app.add_route("/docs/oauth2-redirect", redirect, include_in_schema=False)
