"""The FastAPI application, built by a factory: nothing is created at import time."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from sqlalchemy.orm import sessionmaker

from api.errors import register_error_handlers
from api.routers import areas, health
from layers.db import database_url, make_engine
from layers.settings import Settings

VERSION = "0.1.0"


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the API. The database engine is opened at start-up and disposed at shutdown."""
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = make_engine(database_url(settings, start=False), settings)
        app.state.sessionmaker = sessionmaker(engine, expire_on_commit=False)
        try:
            yield
        finally:
            engine.dispose()

    app = FastAPI(
        title="Bamrung",
        version=VERSION,
        summary="Household hardship in Thailand: boundaries, surveys, analysis, maps and cases.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    register_error_handlers(app)
    app.include_router(health.router)
    app.include_router(areas.router)
    return app
