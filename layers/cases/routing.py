"""The stored routing rules, as ``geo.cases.routing`` reads them, and their coverage."""

from __future__ import annotations

from sqlalchemy import Connection, select

from geo.cases.routing import Coverage, Routes, Rule
from layers.geography.registry import registry_units
from layers.store.models import AdminUnit, ProblemCategory, Route


def routes(conn: Connection, category: str | None = None) -> Routes:
    """The rules of ``route`` (of one category, or all), ready to route."""
    query = select(Route.category, Route.area, Route.office)
    if category is not None:
        query = query.where(Route.category == category)
    return Routes(Rule(*row) for row in conn.execute(query))


def coverage(conn: Connection) -> Coverage:
    """Every category × subdistrict without exactly one office.

    The subdistricts are those of the registry and of the loaded boundaries.
    """
    places = {u.code for u in registry_units() if u.level == "subdistrict"}
    places |= set(conn.scalars(select(AdminUnit.code).where(AdminUnit.level == "subdistrict")))
    categories = conn.scalars(select(ProblemCategory.code)).all()
    return routes(conn).coverage(categories, places)
