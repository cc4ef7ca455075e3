"""Citizens' pages, phone first: enrolling with the slip's code, reporting a problem, following
it to the case's end (updates, "is it solved?"); and the district team's side: the enrolment
slip of a household, the queue of reports to verify. They call the functions of the JSON API
(``layers.citizens``, the cases' actions) through the same scope filter, and log every view of
a household's report as the API does."""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from typing import Annotated

import segno
from fastapi import Depends, File, Form, Path, Query, Request, UploadFile
from fastapi.responses import HTMLResponse, Response

from api.auth import client_address, enrol, requires, same_site, web_session
from api.casework import actor, read_case
from api.deps import SessionDep, SettingsDep, audit
from api.errors import STATUS
from api.web.render import page, pages_router, redirect, words
from geo.access import PUBLIC
from geo.cases.workflow import allowed
from geo.citizens import DETAIL_MAX, REPORT_STATES
from geo.errors import (
    ForbiddenError,
    InvalidInputError,
    StaleVersionError,
    TooLargeError,
    TooManyAttemptsError,
    UnauthorizedError,
)
from geo.vocab import DIMENSIONS
from layers.access import sessions
from layers.access.users import User
from layers.cases.actions import act
from layers.cases.events import clock
from layers.citizens import enrolment, line, photos, questions, reports
from layers.survey.taxonomy import categories

router = pages_router()
Visitor = Annotated[User | None, Depends(requires(PUBLIC))]
Reader = Annotated[User | None, Depends(requires("reports:read"))]
Reporter = Annotated[User | None, Depends(requires("reports:write"))]
Verifier = Annotated[User | None, Depends(requires("reports:verify"))]
Enroller = Annotated[User | None, Depends(requires("citizens:enrol"))]
ReportId = Annotated[int, Path(ge=1, le=2**62)]
Text = Annotated[str, Form(max_length=DETAIL_MAX)]
Coordinate = Annotated[str, Form(max_length=32)]
FIELDS = ["category", "detail", "position"]
#: A name a citizen may choose (as the JSON API's enrolment takes it).
USERNAME = re.compile(r"[\w.@-]{3,64}")
#: The picture of each dimension beside its categories (Tabler's outline icons, vendored).
ICONS = {
    "health": "stethoscope",
    "living_conditions": "home",
    "education": "school",
    "income": "coin",
    "public_services": "building-community",
}
PAGE = 50
#: What a report's page lets its reader do: the team decides, the household follows.
DECISIONS = ("verify", "reject")
FOLLOWING = ("comment", "confirm")


@router.get("/enrol", response_class=HTMLResponse)
def enrol_page(request: Request, user: Visitor) -> HTMLResponse:
    t = words(request)
    return page(request, "enrol.html", user, title=t("enrol_title"), message=None, username="")


@router.post("/enrol", response_class=HTMLResponse)
def enrol_form(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    _visitor: Visitor,
    code: Annotated[str, Form(max_length=32)],
    username: Annotated[str, Form(max_length=64)],
    password: Annotated[str, Form(max_length=256)],
    again: Annotated[str, Form(max_length=256)],
) -> Response:
    same_site(request)
    t = words(request)
    message, status = None, 422
    if not USERNAME.fullmatch(username):
        message = t("enrol_bad_name")
    elif len(password) < 10:
        message = t("enrol_short_password")
    elif password != again:
        message = t("enrol_passwords_differ")
    else:
        try:
            user = enrol(request, session, settings, code, username, password, "web")
        except (UnauthorizedError, TooManyAttemptsError, InvalidInputError) as exc:
            status = STATUS[type(exc)]
            message = {401: t("enrol_bad_code"), 429: t("login_throttled")}.get(status, str(exc))
        else:
            return web_session(request, session, settings, user, "/app/reports")
    return page(
        request,
        "enrol.html",
        None,
        http_status=status,
        title=t("enrol_title"),
        message=message,
        username=username,
    )


@router.post("/app/households/{household_id}/enrolment", response_class=HTMLResponse)
def enrolment_slip(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    user: Enroller,
    household_id: Annotated[str, Path(max_length=64)],
) -> HTMLResponse:
    """A new code for the household, on a slip to print (shown once: only its digest is kept)."""
    assert user is not None
    conn = session.connection()
    issued = enrolment.issue(
        conn, user.name, user.scope, household_id, clock(settings), settings.enrolment_days
    )
    sessions.record(conn, "code_issued", user.name, client_address(request), "web")
    session.commit()
    audit(request, session, user, [issued.household_id], ["enrolment_code"])
    # The code rides in the fragment, which browsers never send: no server log keeps it.
    link = f"{str(request.base_url).rstrip('/')}/enrol#code={issued.code}"
    svg = io.BytesIO()
    segno.make(link, error="m").save(svg, kind="svg", scale=4, xmldecl=False, svgns=True)
    response = page(
        request,
        "slip.html",
        user,
        title=words(request)("slip_title"),
        issued=issued,
        link=link,
        qr=svg.getvalue().decode(),
    )
    response.headers["Cache-Control"] = "private, no-store"
    return response


@router.get("/app/reports", response_class=HTMLResponse)
def reports_page(
    request: Request,
    session: SessionDep,
    user: Reader,
    state: Annotated[str | None, Query(max_length=16)] = None,
    offset: Annotated[int, Query(ge=0, le=10**7)] = 0,
) -> HTMLResponse:
    """A citizen's own reports; the district team's queue (those to verify, unless asked)."""
    assert user is not None
    t = words(request)
    own = user.role == "citizen"
    if not own and state is None:
        state = "to_verify"
    if state not in (None, *REPORT_STATES):
        raise InvalidInputError(f"state: one of {', '.join(REPORT_STATES)}", field="state")
    conn = session.connection()
    rows, total = reports.listed(conn, user.scope, state=state, limit=PAGE, offset=offset)
    taxonomy = categories(conn)
    asked = questions.pending(conn, user.scope) if own else []
    # A citizen's page names the household, even before its first report.
    shown = [str(user.scope.household)] if own else [r["household_id"] for r in rows]
    audit(request, session, user, shown, FIELDS)
    return page(
        request,
        "reports.html",
        user,
        title=t("my_reports" if own else "to_verify_title"),
        rows=rows,
        total=total,
        offset=offset,
        page_size=PAGE,
        state=state,
        states=REPORT_STATES,
        own=own,
        may_report=user.scope.allows("reports:write"),
        asked=asked,
        categories=taxonomy,
    )


@router.post("/app/reports/line", response_class=HTMLResponse)
def line_code(
    request: Request, session: SessionDep, settings: SettingsDep, user: Reporter
) -> HTMLResponse:
    """A code to send from LINE, which links that LINE account to this household's account."""
    assert user is not None
    _household_of(user)
    code, expires = line.link_code(session.connection(), user, clock(settings))
    session.commit()
    response = page(
        request, "line.html", user, title=words(request)("line_title"), code=code,
        expires=expires,
    )  # fmt: skip
    response.headers["Cache-Control"] = "private, no-store"
    return response


@router.get("/app/reports/new", response_class=HTMLResponse)
def new_report_page(request: Request, session: SessionDep, user: Reporter) -> HTMLResponse:
    assert user is not None
    _household_of(user)
    return _report_form(request, session, user, {}, None, 200)


@router.post("/app/reports/new", response_class=HTMLResponse)
def new_report(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    user: Reporter,
    category: Annotated[str, Form(max_length=48)] = "",
    detail: Text = "",
    place: Annotated[str, Form(pattern=r"^(household|map)$")] = "household",
    lon: Coordinate = "",
    lat: Coordinate = "",
    photo: Annotated[UploadFile | None, File()] = None,
) -> Response:
    assert user is not None
    t = words(request)
    given = {"category": category, "detail": detail, "place": place, "lon": lon, "lat": lat}
    try:
        point = _point(lon, lat) if place == "map" else (None, None)
        made = reports.submit(
            session.connection(),
            user,
            reports.NewReport(category, detail, *point),
            clock(settings),
            address=client_address(request),
            per_address=settings.reports_per_address,
        )
        data = photo.file.read(settings.photo_max_bytes + 1) if photo else b""
        if data:  # the report and its photo are kept together, or neither
            photos.add(session.connection(), settings, user, made["id"], data, clock(settings))
    except (InvalidInputError, TooManyAttemptsError, TooLargeError) as exc:
        session.rollback()
        status = STATUS[type(exc)]
        message = t("reports_throttled") if status == 429 else str(exc)
        return _report_form(request, session, user, given, message, status)
    session.commit()
    return redirect(request, f"/app/reports/{made['id']}?sent=1")


def _household_of(user: User) -> str:
    """The household whose own door these pages are (others use the case's page)."""
    if user.role != "citizen" or user.scope.household is None:
        raise ForbiddenError("these pages are a household's own: only its citizen account")
    return user.scope.household


def _point(lon: str, lat: str) -> tuple[float, float]:
    try:
        return float(lon), float(lat)
    except ValueError:
        raise InvalidInputError(
            "lon, lat: pick the place on the map, or give its longitude and latitude",
            field="lon",
        ) from None


def _report_form(
    request: Request,
    session: SessionDep,
    user: User,
    given: dict[str, str],
    message: str | None,
    status: int,
) -> HTMLResponse:
    conn = session.connection()
    t = words(request)
    taxonomy = categories(conn)
    at_home = reports.home(conn, _household_of(user))
    return page(
        request,
        "report_new.html",
        user,
        http_status=status,
        title=t("report_title"),
        message=message,
        given=given,
        groups=[(d, ICONS[d], [c for c in taxonomy if c["dimension"] == d]) for d in DIMENSIONS],
        categories=taxonomy,
        centre=at_home or (104.85, 15.25),
        detail_max=DETAIL_MAX,
    )


@router.get("/app/reports/{report_id}", response_class=HTMLResponse)
def report_page(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    user: Reader,
    report_id: ReportId,
    sent: Annotated[bool, Query()] = False,
) -> HTMLResponse:
    assert user is not None
    return _report(request, session, settings, user, report_id, sent=sent)


def _report(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    user: User,
    report_id: int,
    *,
    sent: bool = False,
    refused: str | None = None,
    http_status: int = 200,
) -> HTMLResponse:
    conn = session.connection()
    found = reports.get(conn, user.scope, report_id)
    alike = reports.alike(conn, user.scope, found) if found["state"] == "to_verify" else []
    taxonomy = categories(conn)
    case = found["case"]
    # One access-log row: the case's, naming the report's fields too, or the report's alone.
    if case:
        shown = read_case(request, session, settings, user, case["id"], also=tuple(FIELDS))
    else:
        shown = None
        audit(request, session, user, [found["household_id"]], FIELDS)
    may = user.scope.allows
    offered = [
        *(DECISIONS if found["state"] == "to_verify" and may("reports:verify") else ()),
        *(
            a
            for a in FOLLOWING
            if shown is not None
            and user.role == "citizen"
            and (
                shown["state"] == "resolved"
                if a == "confirm"
                else "comment" in allowed(shown["state"], user.role)
            )
        ),
    ]
    t = words(request)
    response = page(
        request,
        "report.html",
        user,
        http_status=http_status,
        title=t("report_number", id=report_id),
        report=found,
        case=shown,
        alike=alike,
        offered=offered,
        sent=sent,
        refused=refused,
        categories=taxonomy,
    )
    response.headers["Cache-Control"] = "private, no-store"
    return response


@router.post("/app/reports/{report_id}/decision", response_class=HTMLResponse)
def decide_report(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    user: Verifier,
    report_id: ReportId,
    action: Annotated[str, Form(pattern=r"^(verify|reject)$")],
    note: Text = "",
) -> Response:
    """The district team's decision: a real problem (routed at once), or turned down."""
    assert user is not None
    now = clock(settings)

    def decide() -> None:
        if action == "verify":
            session.close()  # the decision and the routing commit on their own
            reports.verify(session.get_bind(), user, report_id, now)  # type: ignore[arg-type]
        else:
            reports.reject(session.connection(), user, report_id, now, reason=note)

    return _acted(request, session, settings, user, report_id, decide)


@router.post("/app/reports/{report_id}", response_class=HTMLResponse)
def follow_report(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    user: Reporter,
    report_id: ReportId,
    action: Annotated[str, Form(pattern=r"^(comment|confirm)$")],
    note: Text = "",
    solved: Annotated[str, Form(pattern=r"^(yes|no|)$")] = "",
    version: Annotated[int | None, Form(ge=1, le=2**31)] = None,
) -> Response:
    """The household's update on its case, or its answer to "is it solved?"."""
    assert user is not None
    _household_of(user)
    now = clock(settings)
    who = actor(request, user)

    def follow() -> None:
        conn = session.connection()
        if action == "confirm":
            reports.confirm(
                conn, who, report_id, now, solved=solved == "yes", version=version,
                reason=note or None,
            )  # fmt: skip
            return
        case = reports.get(conn, user.scope, report_id)["case"]
        if case is None:
            raise InvalidInputError(f"report {report_id} has no case yet to add updates to")
        act(conn, who, case["id"], "comment", version=version, now=now, note=note)

    return _acted(request, session, settings, user, report_id, follow)


def _acted(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    user: User,
    report_id: int,
    change: Callable[[], None],
) -> Response:
    """Back to the report once ``change`` is made; else the report again, saying why not."""
    try:
        change()
    except StaleVersionError:
        session.rollback()
        refused, status = words(request)("stale"), 412
    except InvalidInputError as exc:
        session.rollback()
        refused, status = str(exc), 422
    else:
        session.commit()
        return redirect(request, f"/app/reports/{report_id}")
    return _report(request, session, settings, user, report_id, refused=refused, http_status=status)
