"""Domain errors mapped to HTTP, in one place."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from sqlalchemy.exc import OperationalError

from geo.errors import (
    BamrungError,
    ForbiddenError,
    InvalidInputError,
    NotFoundError,
    TooLargeError,
    UnauthorizedError,
    UnavailableError,
)

STATUS: dict[type[BamrungError], int] = {
    UnauthorizedError: 401,
    ForbiddenError: 403,
    NotFoundError: 404,
    TooLargeError: 413,
    InvalidInputError: 422,
    UnavailableError: 503,
}


def register_error_handlers(app: FastAPI) -> None:
    """Answer every ``BamrungError`` with its status and message as ``{"detail": ...}``."""

    async def domain_error(_request: Request, exc: Exception) -> JSONResponse:
        status = next((s for cls, s in STATUS.items() if isinstance(exc, cls)), 400)
        headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
        return JSONResponse({"detail": str(exc)}, status_code=status, headers=headers)

    async def database_down(_request: Request, _exc: Exception) -> JSONResponse:
        return JSONResponse({"detail": "the database cannot be reached"}, status_code=503)

    app.add_exception_handler(BamrungError, domain_error)
    app.add_exception_handler(OperationalError, database_down)
