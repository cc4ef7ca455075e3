"""Roll-ups for the public, through ``geo.disclosure``.

Counts below k hidden, with complementary suppression, and sensitive categories shown no finer than
district level.
"""

from __future__ import annotations

import math
from typing import Any

import pandas as pd
from sqlalchemy import Connection, select

from geo.disclosure import K_SENSITIVE, K, suppress
from geo.vocab import DIMENSIONS, STATUSES
from layers.analysis.stats import rollup
from layers.store.models import ProblemCategory

#: Levels at which sensitive categories are not shown, even as counts at or above k.
FINE_LEVELS = ("subdistrict", "village", "community")


def public_rollup(
    conn: Connection,
    *,
    area: str,
    level: str,
    round_: int | None = None,
    dimension: str | None = None,
) -> list[dict[str, Any]]:
    """``stats.rollup`` with disclosure control; hidden counts are None."""
    rows = rollup(conn, area=area, level=level, round_=round_, dimension=dimension)
    if not rows:
        return rows
    taxonomy = conn.execute(
        select(ProblemCategory.code, ProblemCategory.dimension, ProblemCategory.sensitive)
    ).all()
    sensitive = {code for code, _, flag in taxonomy if flag}
    fine = level in FINE_LEVELS
    columns: dict[str, list[int]] = {
        "households": [],
        "households_with_problems": [],
        "problems": [],
        "solved": [],
    }
    for status in STATUSES:
        columns[f"status:{status}"] = [r["resolution"][status] for r in rows]
    for dim in DIMENSIONS:
        columns[f"dimension:{dim}"] = [r["by_dimension"][dim] for r in rows]
    thresholds: dict[str, float] = {}
    groups: list[tuple[list[str], str]] = [
        ([f"status:{s}" for s in STATUSES], "problems"),
        (["status:solved_by_agency", "status:solved_by_household"], "solved"),
        ([f"dimension:{d}" for d in DIMENSIONS], "problems"),
    ]
    all_parts: list[str] = []
    for dim in DIMENSIONS:
        parts = []
        hidden_together = [c for c, d, _ in taxonomy if d == dim and c in sensitive]
        for code, in_dim, _ in taxonomy:
            if in_dim != dim or (fine and code in sensitive):
                continue
            columns[f"category:{code}"] = [r["by_category"].get(code, 0) for r in rows]
            thresholds[f"category:{code}"] = K_SENSITIVE if code in sensitive else K
            parts.append(f"category:{code}")
        if fine and hidden_together:
            # The sensitive categories of a dimension together: never shown at this level.
            name = f"sensitive:{dim}"
            columns[name] = [sum(r["by_category"].get(c, 0) for c in hidden_together) for r in rows]
            thresholds[name] = math.inf
            parts.append(name)
        groups.append((parts, f"dimension:{dim}"))
        all_parts += parts
    groups.append((all_parts, "problems"))
    for name in ("households", "households_with_problems", "problems", "solved"):
        columns[name] = [r[name] for r in rows]
    table = pd.DataFrame(columns, index=[r["code"] for r in rows])
    hidden = suppress(table, thresholds, groups)
    return [
        _published(r, table.loc[r["code"]], hidden.loc[r["code"]], fine, sensitive) for r in rows
    ]


def _published(
    row: dict[str, Any], counts: pd.Series, hidden: pd.Series, fine: bool, sensitive: set[str]
) -> dict[str, Any]:
    def value(name: str) -> int | None:
        return None if hidden[name] else int(counts[name])

    out = {k: row[k] for k in ("code", "level", "round", "name_th", "name_en")}
    for name in ("households", "households_with_problems", "problems", "solved"):
        out[name] = value(name)
    out["resolution"] = {s: value(f"status:{s}") for s in STATUSES}
    out["by_dimension"] = {d: value(f"dimension:{d}") for d in DIMENSIONS}
    out["by_category"] = {
        c: value(f"category:{c}")
        for c in sorted(row["by_category"])
        if not (fine and c in sensitive) and f"category:{c}" in counts
    }
    out["solved_pct"] = _rate(out["solved"], out["problems"], 100)
    out["problems_per_1000"] = _rate(out["problems"], out["households"], 1000)
    out["affected_per_1000"] = _rate(out["households_with_problems"], out["households"], 1000)
    out["suppressed"] = sorted(c for c in hidden.index if hidden[c])
    return out


def _rate(part: int | None, whole: int | None, scale: int) -> float | None:
    if part is None or not whole:
        return None
    return round(part / whole * scale, 2)
