"""Open311 GeoReport v2 at ``/open311/v2``: discovery, services, requests, tokens; JSON or XML.

The services are the taxonomy. A request is a citizen's report with its case, and a
household's personal data: reading requests needs the caller's API token (HTTP Basic with the
user's name, or a bearer token; not a query parameter, which logs and proxies keep), and
answers only what the caller's scope holds, access-logged. Posting one is a citizen's report
(``layers.citizens.reports``).
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Path, Query, Request
from fastapi.responses import JSONResponse, Response

from api.auth import client_address, requires
from api.deps import SessionDep, SettingsDep, audit
from geo import open311
from geo.errors import ForbiddenError, InvalidInputError, NotFoundError, UnauthorizedError
from layers.access.users import User, user_for_token
from layers.cases.events import clock
from layers.citizens import reports
from layers.citizens.requests import service_requests, services

BOTH: dict[str, Any] = {"content": {"application/json": {}, "text/xml": {}}}
#: Every answer, and GeoReport's error documents, in the format the path's extension names.
ANSWERS: dict[int | str, dict[str, Any]] = {
    200: {"description": "JSON or XML, as the extension says", **BOTH},
    **{code: {"description": f"GeoReport's error document ({code})", **BOTH}
       for code in (400, 401, 403, 404, 429)},
}  # fmt: skip
router = APIRouter(prefix="/open311/v2", tags=["open311"], responses=ANSWERS)
Anyone = Annotated[User | None, Depends(requires("public"))]
Format = Annotated[str, Path(pattern=r"^(json|xml)$")]
Lang = Annotated[str, Query(pattern=r"^(th|en)$")]
#: GeoReport's names of the roots of its XML lists.
BANGKOK = dt.timezone(dt.timedelta(hours=7))
#: When this endpoint last changed what it speaks.
CHANGESET = "2026-12-02T00:00:00+07:00"
ROOTS = {"services": ("services", "service"), "requests": ("service_requests", "request")}


def _answer(items: list[dict[str, Any]], fmt: str, kind: str, private: bool) -> Response:
    root, item = ROOTS[kind]
    headers = {"Cache-Control": "private, no-store"} if private else {}
    return Response(open311.body(items, fmt, root, item), media_type=open311.MEDIA[fmt],
                    headers=headers)  # fmt: skip


def _reader(session: SessionDep, user: User | None, api_key: str | None, needs: str) -> User:
    """The caller, by its API token as ``api_key`` (a post's) or by the request's credentials."""
    if api_key:
        user = user_for_token(session.connection(), api_key)
        if user is None:
            raise UnauthorizedError("api_key: not a valid API token")
    if user is None:
        raise UnauthorizedError(
            "requests are households' personal data: send your API token "
            "(HTTP Basic: your user name and the token)"
        )
    if not user.scope.allows(needs):
        raise ForbiddenError(f"role {user.role} may not use this")
    return user


@router.get("/discovery.{fmt}", summary="Where this endpoint is and what it speaks")
def discovery(request: Request, fmt: Format, _: Anyone) -> Response:
    base = f"{request.url.scheme}://{request.url.netloc}/open311/v2"
    about = {
        "changeset": CHANGESET,
        "contact": "the district office (ที่ว่าการอำเภอ)",
        "key_service": "an API token of your account (bamrung users token, or the web app)",
    }
    endpoint: dict[str, Any] = {
        "specification": open311.SPECIFICATION,
        "url": base,
        "changeset": CHANGESET,
        "type": "production",
    }
    if fmt == "json":
        formats = ["application/json", "text/xml"]
        return JSONResponse({**about, "endpoints": [{**endpoint, "formats": formats}]})
    xml = open311.body([about | endpoint], "xml", "discovery", "endpoint")
    return Response(xml, media_type=open311.MEDIA[fmt])


@router.get("/services.{fmt}", summary="The kinds of problem one may report (the taxonomy)")
def list_services(session: SessionDep, fmt: Format, _: Anyone, lang: Lang = "th") -> Response:
    return _answer(services(session.connection(), lang), fmt, "services", private=False)


def _dates(value: str | None, name: str) -> dt.datetime | None:
    if value is None:
        return None
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidInputError(f"{name}: {value!r} is not a W3C date-time") from None
    if not 2000 <= parsed.year <= 2200:
        raise InvalidInputError(f"{name}: a year between 2000 and 2200")
    # Without a zone, Thailand's time (as its people would mean it).
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=BANGKOK)


def _ids(value: str | None) -> list[int] | None:
    if not value:
        return None
    parts = [p.strip() for p in value.split(",")]
    if len(parts) > 100 or not all(p.isascii() and p.isdigit() and len(p) < 18 for p in parts):
        raise InvalidInputError("service_request_id: up to 100 numbers, comma separated")
    return [int(p) for p in parts]


@router.get("/requests.{fmt}", summary="Service requests inside the caller's scope")
def list_requests(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    fmt: Format,
    user: Anyone,
    service_request_id: Annotated[str | None, Query(max_length=2000)] = None,
    service_code: Annotated[str | None, Query(max_length=1000)] = None,
    start_date: Annotated[str | None, Query(max_length=40)] = None,
    end_date: Annotated[str | None, Query(max_length=40)] = None,
    status: Annotated[str | None, Query(max_length=20)] = None,
    lang: Lang = "th",
    jurisdiction_id: Annotated[str | None, Query(max_length=64)] = None,
) -> Response:
    reader = _reader(session, user, None, "reports:read")
    found = service_requests(
        session.connection(),
        reader.scope,
        clock(settings),
        ids=_ids(service_request_id),
        categories=service_code.split(",") if service_code else None,
        start=_dates(start_date, "start_date"),
        end=_dates(end_date, "end_date"),
        status=status.split(",") if status else None,
        lang=lang,
    )
    return _shown(request, session, reader, found, fmt)


def _shown(
    request: Request, session: SessionDep, reader: User, found: list[dict[str, Any]], fmt: str
) -> Response:
    audit(request, session, reader, [r["household_id"] for r in found], ["report"])
    return _answer(found, fmt, "requests", private=True)


@router.get("/requests/{request_id}.{fmt}", summary="One service request")
def get_request(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    request_id: Annotated[int, Path(ge=1, le=2**62)],
    fmt: Format,
    user: Anyone,
    lang: Lang = "th",
) -> Response:
    reader = _reader(session, user, None, "reports:read")
    found = service_requests(
        session.connection(), reader.scope, clock(settings), ids=[request_id], lang=lang
    )
    if not found:
        raise NotFoundError(f"no request {request_id}")
    return _shown(request, session, reader, found, fmt)


@router.get("/tokens/{token}.{fmt}", summary="The request a token stands for")
def get_token(
    session: SessionDep,
    settings: SettingsDep,
    token: Annotated[int, Path(ge=1, le=2**62)],
    fmt: Format,
    user: Anyone,
) -> Response:
    # A request's id is known at once, so its token is its id.
    reader = _reader(session, user, None, "reports:read")
    found = service_requests(session.connection(), reader.scope, clock(settings), ids=[token])
    if not found:
        raise NotFoundError(f"no token {token}")
    items = [{"service_request_id": found[0]["service_request_id"], "token": str(token)}]
    return _answer(items, fmt, "requests", private=True)


@router.post("/requests.{fmt}", summary="Report a problem (a citizen's API token as api_key)")
def post_request(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    fmt: Format,
    user: Anyone,
    service_code: Annotated[str, Form(max_length=48)],
    description: Annotated[str, Form(max_length=4000)] = "",
    lat: Annotated[float | None, Form(ge=-90, le=90)] = None,
    long: Annotated[float | None, Form(ge=-180, le=180)] = None,
    api_key: Annotated[str | None, Form(max_length=128)] = None,
    # The specification's place for the key; a query string may be logged on the way.
    query_key: Annotated[str | None, Query(alias="api_key", max_length=128)] = None,
    jurisdiction_id: Annotated[str | None, Form(max_length=64)] = None,
) -> Response:
    reporter = _reader(session, user, api_key or query_key, "reports:write")
    made = reports.submit(
        session.connection(),
        reporter,
        reports.NewReport(service_code, description, long, lat),
        clock(settings),
        address=client_address(request),
        per_address=settings.reports_per_address,
    )
    session.commit()
    notice = open311.NOTES["to_verify"][0]
    items = [{"service_request_id": str(made["id"]), "service_notice": notice, "account_id": None}]
    return _answer(items, fmt, "requests", private=True)
