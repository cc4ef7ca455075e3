"""Domain errors mapped to HTTP, in one place."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exception_handlers import request_validation_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from sqlalchemy.exc import DataError, OperationalError

from api.web.render import page, words
from api.web.words import WORDS
from geo import open311
from geo.errors import (
    BamrungError,
    ForbiddenError,
    InvalidInputError,
    NotFoundError,
    StaleVersionError,
    TooLargeError,
    TooManyAttemptsError,
    UnauthorizedError,
    UnavailableError,
    UnsupportedFileError,
    VersionRequiredError,
)

log = logging.getLogger(__name__)

ERROR_BODY = {
    "type": "object",
    "properties": {"detail": {"type": "string"}},
    "required": ["detail"],
}
#: Documented on every route: the domain errors any of them may answer (JSON, whatever the
#: route's own media type).
RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"description": description, "content": {"application/json": {"schema": ERROR_BODY}}}
    for status, description in (
        (400, "bad request"),
        (401, "no login, or a bad token"),
        (403, "the role may not use this"),
        (404, "not found, or outside the caller's scope"),
        (413, "larger than a configured limit"),
        (415, "a file of a kind this route does not take"),
        (429, "too many failed attempts: wait as long as Retry-After says"),
        (503, "the database cannot be reached"),
    )
}

#: Checked in order: a subclass comes before its base.
STATUS: dict[type[BamrungError], int] = {
    UnauthorizedError: 401,
    ForbiddenError: 403,
    NotFoundError: 404,
    StaleVersionError: 412,
    TooLargeError: 413,
    UnsupportedFileError: 415,
    InvalidInputError: 422,
    VersionRequiredError: 428,
    TooManyAttemptsError: 429,
    UnavailableError: 503,
}


def register_error_handlers(app: FastAPI) -> None:
    """Answer every ``BamrungError`` with its status and message as ``{"detail": ...}``."""

    async def domain_error(request: Request, exc: Exception) -> Response:
        status = next((s for cls, s in STATUS.items() if isinstance(exc, cls)), 400)
        if is_page(request):
            return error_page(request, status, str(exc))
        headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
        if isinstance(exc, TooManyAttemptsError):
            headers = {"Retry-After": str(exc.retry_after)}
        detail: object = str(exc)
        if isinstance(exc, VersionRequiredError | StaleVersionError):
            detail = f"{exc}; over HTTP the version is the case's ETag, sent back as If-Match"
        if "open311" in getattr(request.scope.get("route"), "tags", ()):
            # GeoReport v2: every error is its error document; a bad value is a 400.
            code = 400 if status == 422 else status
            fmt = "xml" if request.url.path.endswith(".xml") else "json"
            return Response(
                open311.errors(code, str(exc), fmt),
                status_code=code,
                media_type=open311.MEDIA[fmt],
                headers=headers,
            )
        if status == 422 and "ogc" in getattr(request.scope.get("route"), "tags", ()):
            # OGC API – Features: a parameter a client got wrong is a 400 exception document.
            return JSONResponse(
                {"code": "InvalidParameterValue", "description": str(exc)}, status_code=400
            )
        if status == 422:
            # The shape FastAPI documents for every 422, so clients parse one kind of error.
            detail = [{"loc": ["request"], "msg": str(exc), "type": "value_error"}]
        if isinstance(exc, StaleVersionError):
            # The current record, so the client can show it and retry with its ETag.
            headers = {"ETag": f'"{exc.current["version"]}"'}
            return JSONResponse(
                {"detail": detail, "current": jsonable_encoder(exc.current)},
                status_code=status,
                headers=headers,
            )
        return JSONResponse({"detail": detail}, status_code=status, headers=headers)

    async def database_down(request: Request, _exc: Exception) -> Response:
        if is_page(request):
            return error_page(request, 503, "")
        return JSONResponse({"detail": "the database cannot be reached"}, status_code=503)

    async def bad_value(request: Request, exc: Exception) -> JSONResponse:
        # The database's message may quote the value: only its kind is said (and logged).
        kind = type(getattr(exc, "orig", exc)).__name__
        log.warning(
            "%s %s: the database refused a value (%s)", request.method, request.url.path, kind
        )
        detail = [
            {"loc": ["request"], "msg": f"a value cannot be used ({kind})", "type": "value_error"}
        ]
        return JSONResponse({"detail": detail}, status_code=422)

    async def bad_request(request: Request, exc: Exception) -> Response:
        if "open311" in getattr(request.scope.get("route"), "tags", ()):
            assert isinstance(exc, RequestValidationError)
            fmt = "xml" if request.url.path.endswith(".xml") else "json"
            wrong = "; ".join(
                f"{'.'.join(str(p) for p in e['loc'][1:])}: {e['msg']}" for e in exc.errors()
            )
            return Response(open311.errors(400, wrong, fmt), status_code=400,
                            media_type=open311.MEDIA[fmt])  # fmt: skip
        return await request_validation_exception_handler(request, exc)  # type: ignore[arg-type]

    app.add_exception_handler(RequestValidationError, bad_request)
    app.add_exception_handler(BamrungError, domain_error)
    app.add_exception_handler(OperationalError, database_down)
    app.add_exception_handler(DataError, bad_value)


def is_page(request: Request) -> bool:
    """Whether the request is for a page of the web application (its errors are pages too)."""
    return "pages" in getattr(request.scope.get("route"), "tags", ())


def error_page(request: Request, status: int, detail: str) -> Response:
    """The page of an error: its title in the caller's language, the reason, and for 401 the
    login form (landing where the user lands: the address is not repeated)."""
    t = words(request)
    user = getattr(request.state, "user", None)
    # The address is not repeated: it may name what the caller may not see (a household).
    response = page(
        request,
        "error.html",
        user,
        http_status=status,
        title=t(f"error_{status}") if f"error_{status}" in WORDS["en"] else t("error_400"),
        detail=detail or t(f"error_{status}"),
        status_code=status,
        next_url="",
        back="/",
    )
    if status == 401:
        response.headers["WWW-Authenticate"] = "Bearer"
    return response
