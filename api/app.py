"""The FastAPI application, built by a factory: nothing is created at import time."""

from __future__ import annotations

import gc
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles
from sqlalchemy.orm import sessionmaker

from api.errors import RESPONSES, register_error_handlers
from api.routers import (
    areas,
    auth,
    density,
    health,
    home,
    hotspots,
    households,
    imports,
    layers,
    maps,
    overlay,
    stats,
    targeting,
)
from layers.db import database_url, make_engine
from layers.settings import Settings

VERSION = "0.1.0"


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the API. The database engine is opened at start-up and disposed at shutdown."""
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = make_engine(database_url(settings, start=False), settings)
        app.state.engine = engine
        app.state.sessionmaker = sessionmaker(engine, expire_on_commit=False)
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
    )
    app.state.settings = settings
    register_error_handlers(app)

    @app.middleware("http")
    async def request_id(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        # Names the request in the access log and in the response, so the two can be matched.
        request.state.request_id = request.headers.get("x-request-id") or uuid.uuid4().hex
        response = await call_next(request)
        response.headers["X-Request-ID"] = request.state.request_id
        return response

    @app.middleware("http")
    async def refuse_large_bodies(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        # Before the body is read: a declared length over the limit is refused at once.
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > settings.upload_max_bytes:
            limit = settings.upload_max_bytes
            detail = f"the request is larger than the limit of {limit:,} bytes"
            return JSONResponse({"detail": detail}, status_code=413)
        return await call_next(request)

    app.include_router(home.router)
    app.include_router(health.router)
    app.include_router(areas.router)
    app.include_router(imports.router)
    for module in (auth, households, stats, density, hotspots, overlay, targeting, layers, maps):
        app.include_router(module.router)
    # The maps' Leaflet files (make setup installs them); absent, the maps load without scripts.
    vendor = StaticFiles(directory=maps.VENDOR_DIR, check_dir=False)
    app.mount(maps.VENDOR_URL, vendor, name="vendor")
    return app
