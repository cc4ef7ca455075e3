"""The dashboard: the figures of the signed-in user's own scope, each linked to the map or the
list behind it."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import Connection

from api.auth import requires
from api.deps import SessionDep, SettingsDep
from api.web.render import page, pages_router, redirect, words
from geo.errors import NotFoundError
from geo.vocab import DIMENSIONS, STATUSES
from layers.access.users import User
from layers.analysis import targeting
from layers.analysis.stats import CHILD_LEVEL, area_figures, resolve_area, served_live
from layers.analysis.targeting import latest_ranking
from layers.cases import queries
from layers.cases.events import clock, today
from layers.cases.queries import CaseFilter
from layers.store.partitions import survey_rounds

router = pages_router("/app")
Account = Annotated[User | None, Depends(requires("account"))]
#: Rounds shown in "change across rounds" (the newest).
ROUNDS = 5


@router.get("", response_class=HTMLResponse)
def dashboard(
    request: Request, session: SessionDep, settings: SettingsDep, user: Account
) -> HTMLResponse:
    assert user is not None
    conn = session.connection()
    scope = user.scope
    context: dict[str, Any] = {"figures": None, "rounds": [], "ranking": None, "cases": None}
    rounds = survey_rounds(conn)
    if scope.allows("analysis:read") and rounds and served_live(scope, scope.area):
        figures = context["figures"] = area_figures(conn, area=scope.area, scope=scope)
        if not scope.narrow:  # from the roll-up: cheap for every round (the latest is at hand)
            context["rounds"] = [
                figures if r == figures["round"] else _round(conn, scope, r)
                for r in rounds[-ROUNDS:]
            ]
    if scope.allows("analysis:area") and not scope.narrow:
        # The newest stored run of the area, whatever its level (the demo ranks subdistricts).
        run, ranked = latest_ranking(conn, area=scope.area)
        context["ranking"] = {"run": run, "rows": ranked}
    if scope.allows("cases:read"):
        day = today(clock(settings))
        offices = sorted(
            queries.kpis(conn, scope, by="office", today=day), key=lambda row: -row["received"]
        )[:10]
        context["cases"] = {
            "states": queries.state_counts(conn, scope, CaseFilter(), today=day),
            "offices": offices,
            "names": queries.names(conn, "office", [row["key"] for row in offices]),
        }
    return page(
        request,
        "dashboard.html",
        user,
        title=words(request)("dashboard"),
        area=scope.area,
        dimensions=DIMENSIONS,
        statuses=STATUSES,
        **context,
    )


def _round(conn: Connection, scope: Any, round_: int) -> dict[str, Any]:
    try:
        found = area_figures(conn, area=scope.area, round_=round_, scope=scope)
    except NotFoundError:
        found = {"households": 0, "problems": 0, "problems_per_1000": None, "solved_pct": None}
    return {"round": round_, **{k: v for k, v in found.items() if k != "children"}}


@router.post("/targeting")
def run_targeting(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    user: Annotated[User | None, Depends(requires("analysis:run"))],
) -> Response:
    """Rank the areas below the caller's own and store the run (the dashboard shows it)."""
    assert user is not None
    area = user.scope.area
    level = CHILD_LEVEL[resolve_area(session.connection(), area).level]
    config = targeting.load_config(settings.targeting_file)
    targeting.target_areas(session.connection(), config, area=area, level=level, store=True)
    session.commit()
    return redirect(request, "/app")
