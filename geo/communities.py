"""Municipal communities and their planning meetings (ประชาคม): the rules, without storage.

A community file's rows, a meeting's issues, and the moves of an issue to the plan.

A community is an area of a municipality (a polygon, or a point where only its centre is
known) with a code and Thai and English names. An issue raised in a meeting is the community's
own, never a household's: it holds no personal data, and its progress is public.
"""

from __future__ import annotations

from typing import Literal, get_args

import geopandas as gpd
import pandas as pd

from geo.citizens import check_detail
from geo.errors import InvalidInputError

IssueState = Literal["raised", "adopted", "in_progress", "done", "not_adopted"]
#: A community issue's way: raised in a meeting, adopted into the local development plan (or
#: not), carried out, done.
ISSUE_STATES: tuple[IssueState, ...] = get_args(IssueState)
#: The source a meeting's issues carry, as the survey's problems carry theirs.
SOURCE = "community_meeting"
#: The columns a community file gives (``name_en`` may be left empty).
COLUMNS = ("code", "name_th", "name_en")
GEOMETRIES = frozenset({"Polygon", "MultiPolygon", "Point"})
CODE_MAX = 24


def check_communities(frame: gpd.GeoDataFrame) -> tuple[gpd.GeoDataFrame, pd.DataFrame]:
    """The rows of a community file that can be loaded, and those refused with their reason.

    Parameters
    ----------
    frame
        As read from the file: ``code``, ``name_th``, optionally ``name_en``, and a polygon or
        point geometry in any CRS.

    Returns
    -------
    kept, refused
        ``kept`` in EPSG:4326 with ``code``, ``name_th``, ``name_en``, ``geometry``;
        ``refused`` with ``row`` (1-based, as a spreadsheet counts), ``field`` and ``reason``.

    Raises
    ------
    InvalidInputError
        If the file has no CRS, or lacks a column every row needs.
    """
    if frame.crs is None:
        raise InvalidInputError("the file has no coordinate reference system", field="crs")
    missing = [c for c in ("code", "name_th") if c not in frame.columns]
    if missing:
        raise InvalidInputError(f"columns missing: {', '.join(missing)}", field=missing[0])
    data = frame.to_crs(4326).reset_index(drop=True)
    if "name_en" not in data.columns:
        data["name_en"] = None
    refused: list[dict[str, object]] = []
    keep: list[bool] = []
    seen: set[str] = set()
    for i, row in data.iterrows():
        code = "" if pd.isna(row["code"]) else str(row["code"]).strip()
        name = "" if pd.isna(row["name_th"]) else str(row["name_th"]).strip()
        geom = row.geometry
        why: tuple[str, str] | None = None
        if not code or len(code) > CODE_MAX or not all(c.isalnum() or c in "-_" for c in code):
            why = ("code", f"1 to {CODE_MAX} letters, digits, '-' or '_'")
        elif code in seen:
            why = ("code", f"{code!r} is given twice")
        elif not name:
            why = ("name_th", "the Thai name is empty")
        elif geom is None or geom.is_empty:
            why = ("geometry", "no geometry")
        elif geom.geom_type not in GEOMETRIES:
            why = ("geometry", f"a {geom.geom_type}: a polygon or a point is needed")
        elif not geom.is_valid:
            why = ("geometry", "the polygon is not valid (it crosses itself)")
        seen.add(code)
        keep.append(why is None)
        if why is not None:
            refused.append({"row": int(str(i)) + 2, "field": why[0], "reason": why[1]})
    kept = data.loc[keep, ["code", "name_th", "name_en", "geometry"]].copy()
    kept["code"] = kept["code"].astype(str).str.strip()
    return kept, pd.DataFrame(refused, columns=["row", "field", "reason"])


def check_issue(category: str, detail: str, votes: int | None, priority: int | None) -> str:
    """A meeting issue's description, checked; its votes and priority must be sensible.

    Raises
    ------
    InvalidInputError
        An empty category, a description a report could not have, negative votes, or a
        priority outside 1 to 5.
    """
    if not category:
        raise InvalidInputError("category: the issue's category is needed", field="category")
    if votes is not None and votes < 0:
        raise InvalidInputError("votes: a count of hands, 0 or more", field="votes")
    if priority is not None and not 1 <= priority <= 5:
        raise InvalidInputError("priority: 1 (first) to 5", field="priority")
    return check_detail(detail)


#: The moves of an issue: (from, to). Adopting names the plan item; "not adopted" may be
#: adopted later, when the council changes the plan.
MOVES: frozenset[tuple[IssueState, IssueState]] = frozenset(
    {
        ("raised", "adopted"),
        ("raised", "not_adopted"),
        ("not_adopted", "adopted"),
        ("adopted", "in_progress"),
        ("in_progress", "done"),
    }
)


def check_move(state: str, to: str, has_plan: bool) -> None:
    """Whether an issue in ``state`` may move to ``to`` (adopting it needs its plan item).

    Raises
    ------
    InvalidInputError
        If the move is not one of ``MOVES``, or an adoption names no plan item.
    """
    if (state, to) not in MOVES:
        possible = sorted(b for a, b in MOVES if a == state)
        raise InvalidInputError(
            f"state: an issue that is {state} can move to: {', '.join(possible) or 'nothing'}",
            field="state",
        )
    if to == "adopted" and not has_plan:
        raise InvalidInputError(
            "plan: the local development plan's item (year, code, name) is needed to adopt it",
            field="plan",
        )
