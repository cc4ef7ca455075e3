"""Targeting: rank the areas (or households) of an area for action.

A ranking is computed from the roll-ups, the households' positions against the flood and
drought zones, the categories' mandates and the weights. Its *fingerprint* is a digest of all
of those: a stored run with the same fingerprint is the same ranking, so a view reuses it
instead of computing again, and only an explicit run (the command line, ``POST /targeting``)
stores one.
"""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd
import yaml
from sqlalchemy import Connection, func, insert, select, text

from geo.errors import InvalidInputError
from geo.targeting import COMPONENTS, TargetingConfig, area_components, score
from geo.vocab import SOLVED
from layers.analysis.overlay import INSIDE_ZONES, zone_exposure
from layers.analysis.stats import area_above, outlines_below, resolve_area, rollup
from layers.store.codes import within
from layers.store.models import (
    AdminUnit,
    Household,
    Layer,
    ProblemCategory,
    TargetRun,
    TargetScore,
)
from layers.store.partitions import latest_round

WATER_ZONES = ("flood_zones", "drought_zones")
NAMES = ("name_th", "name_en", "households", "problems")
# Raw components per household of an area.
HOUSEHOLDS = f"""
WITH {INSIDE_ZONES}
SELECT h.household_id AS code, h.subdistrict_code, ST_X(h.geom) AS lon, ST_Y(h.geom) AS lat,
    count(p.id) AS problems,
    count(p.id) FILTER (WHERE p.status NOT IN {SOLVED})
        AS unsolved,
    coalesce(sum(coalesce((CAST(:severity AS jsonb) ->> p.category)::float, :default_severity))
        FILTER (WHERE p.id IS NOT NULL), 0) AS severity,
    count(p.id) FILTER (WHERE NOT c.within_mandate) AS outside,
    bool_or(i.household_id IS NOT NULL) AS in_zone
FROM household h
JOIN problem p ON p.household_id = h.household_id AND p.round = h.round
JOIN problem_category c ON c.code = p.category
LEFT JOIN inside i ON i.household_id = h.household_id
WHERE h.round = :round AND h.subdistrict_code LIKE :prefix
GROUP BY h.household_id, h.subdistrict_code, h.geom
ORDER BY h.household_id
"""  # noqa: S608 - constants of this module and layers.analysis.overlay


def load_config(path: Path) -> TargetingConfig:
    """The targeting configuration read and checked from the YAML file ``path``."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise InvalidInputError(f"{path}: cannot read the targeting configuration ({exc})") from exc
    return TargetingConfig.from_dict(data)


def _config(config: TargetingConfig) -> dict[str, object]:
    return {
        "weights": config.weights,
        "severity": config.severity,
        "default_severity": config.default_severity,
    }


def fingerprint(
    conn: Connection,
    config: TargetingConfig,
    *,
    area: str,
    level: str,
    round_: int,
    figures: pd.DataFrame,
    prefix: str,
) -> str:
    """A digest of everything a ranking is computed from (see the module's docstring).

    ``prefix``: the code of the area the ranked units are in.
    """
    positions = conn.execute(
        select(func.count(), func.max(Household.updated_at)).where(
            Household.round == round_,
            within(Household.subdistrict_code, prefix),
        )
    ).one()
    zones = conn.scalars(select(Layer.id).where(Layer.kind.in_(WATER_ZONES)).order_by(Layer.id))
    mandates = conn.execute(
        select(ProblemCategory.code, ProblemCategory.within_mandate).order_by(ProblemCategory.code)
    ).all()
    inputs = {
        "area": area,
        "level": level,
        "round": round_,
        "config": _config(config),
        "figures": figures.reset_index().to_dict("records"),
        "positions": [positions[0], str(positions[1])],
        "zones": list(zones),
        "mandates": [list(m) for m in mandates],
    }
    encoded = json.dumps(inputs, sort_keys=True, default=str, ensure_ascii=False).encode()
    return hashlib.sha256(encoded).hexdigest()


def target_areas(
    conn: Connection,
    config: TargetingConfig,
    *,
    area: str,
    level: str,
    round_: int | None = None,
    store: bool = False,
) -> tuple[int | None, pd.DataFrame]:
    """Rank the surveyed child areas of ``area``.

    The stored run computed from the same data and weights when there is one (its id), else a new
    ranking, stored when ``store`` (its id) or not (None).
    """
    started = time.perf_counter()
    parent = area_above(conn, area, level)
    round_ = round_ or latest_round(conn)
    figures = pd.DataFrame(rollup(conn, area=area, level=level, round_=round_)).set_index("code")
    figures = figures[figures["households"] > 0]
    if figures.empty:
        raise InvalidInputError(f"no surveyed {level} in {parent.code or 'Thailand'}")
    digest = fingerprint(
        conn, config, area=area, level=level, round_=round_, figures=figures, prefix=parent.code
    )
    stored = _stored(conn, digest, config, figures)
    if stored is not None:
        return stored
    exposure = zone_exposure(conn, kinds=WATER_ZONES, area=area, level=level, round_=round_)
    water = (exposure.set_index("code")["share_in_zone_pct"].astype(float) / 100).fillna(0.0)
    within = dict(conn.execute(select(ProblemCategory.code, ProblemCategory.within_mandate)).all())
    ranked = score(area_components(figures, within, config, water), config)
    ranked = ranked.join(figures[list(NAMES)])
    if not store:
        return None, ranked
    run_id = conn.scalar(
        insert(TargetRun)
        .values(
            level=level,
            area=area,
            round=round_,
            config=_config(config),
            seconds=time.perf_counter() - started,
            fingerprint=digest,
        )
        .returning(TargetRun.id)
    )
    components = [c for c in ranked.columns if c not in ("rank", "score", "name_th", "name_en")]
    conn.execute(
        insert(TargetScore),
        [
            {
                "run_id": run_id,
                "code": code,
                "rank": int(row["rank"]),
                "score": float(row["score"]),
                "components": {c: _plain(row[c]) for c in components},
            }
            for code, row in ranked.iterrows()
        ],
    )
    assert run_id is not None
    return run_id, ranked


def _stored(
    conn: Connection, digest: str, config: TargetingConfig, figures: pd.DataFrame
) -> tuple[int, pd.DataFrame] | None:
    """The latest stored run with this fingerprint and its ranking, as ``score`` gave it."""
    run_id = conn.scalar(select(func.max(TargetRun.id)).where(TargetRun.fingerprint == digest))
    if run_id is None:
        return None
    rows = conn.execute(
        select(TargetScore.code, TargetScore.rank, TargetScore.score, TargetScore.components)
        .where(TargetScore.run_id == run_id)
        .order_by(TargetScore.rank)
    ).all()
    ranked = pd.DataFrame(
        [{"code": r.code, "rank": r.rank, "score": r.score, **r.components} for r in rows]
    ).set_index("code")
    columns = [f"{c}{part}" for c in config.weights for part in ("", "_scaled", "_points")]
    ranked = ranked[["rank", *columns, "score"]].join(figures[list(NAMES)])
    return int(run_id), ranked


def area_layer(
    conn: Connection, ranked: pd.DataFrame, *, area: str, level: str
) -> gpd.GeoDataFrame:
    """A ranking of areas with their outlines, for GIS files.

    In EPSG:4326 (none for a unit without a polygon), indexed by code in rank order.
    """
    outlines = outlines_below(conn, area, level).set_index("code")["geom"]
    return gpd.GeoDataFrame(ranked.join(outlines), geometry="geom", crs=4326)


def target_households(
    conn: Connection,
    config: TargetingConfig,
    *,
    area: str,
    round_: int | None = None,
) -> gpd.GeoDataFrame:
    """Rank the households with problems in a district or subdistrict.

    Their points are in EPSG:4326.
    """
    parent = resolve_area(conn, area)
    if parent.level not in ("district", "subdistrict"):
        raise InvalidInputError("households are ranked inside a district or subdistrict")
    round_ = round_ or latest_round(conn)
    params = {
        "round": round_,
        "prefix": parent.code + "%",
        "severity": pd.Series(config.severity).to_json(),
        "default_severity": config.default_severity,
        "kinds": list(WATER_ZONES),
    }
    result = conn.execute(text(HOUSEHOLDS), params)
    raw = pd.DataFrame(result.all(), columns=list(result.keys())).set_index("code")
    if raw.empty:
        raise InvalidInputError(f"no household with a problem in {parent.code}")
    components = pd.DataFrame(
        {
            "burden": raw["problems"].astype(float),
            "unresolved": raw["unsolved"] / raw["problems"],
            "severity": raw["severity"].astype(float),
            "out_of_mandate": raw["outside"] / raw["problems"],
            "water_risk": raw["in_zone"].astype(float),
        }
    )
    assert tuple(components.columns) == COMPONENTS
    ranked = score(components, config).join(raw[["subdistrict_code"]])
    points = gpd.points_from_xy(raw.loc[ranked.index, "lon"], raw.loc[ranked.index, "lat"])
    return gpd.GeoDataFrame(ranked, geometry=points, crs=4326)


def _plain(value: object) -> object:
    return value.item() if hasattr(value, "item") else value


def latest_ranking(
    conn: Connection, *, area: str, level: str | None = None, top: int = 10
) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
    """The newest stored run of ``level`` in ``area`` and its ``top`` areas, in rank order.

    ``level`` None: a run of any level. The run's id, level, round and created_at, and each
    area's code, rank, score and names; (None, []) when there is none. Nothing is computed: a
    page shows what a run stored.
    """
    query = select(TargetRun.id, TargetRun.level, TargetRun.round, TargetRun.created_at).where(
        TargetRun.area == area
    )
    if level is not None:
        query = query.where(TargetRun.level == level)
    run = conn.execute(query.order_by(TargetRun.id.desc()).limit(1)).mappings().one_or_none()
    if run is None:
        return None, []
    rows = conn.execute(
        select(
            TargetScore.code,
            TargetScore.rank,
            TargetScore.score,
            AdminUnit.name_th,
            AdminUnit.name_en,
        )
        .outerjoin(AdminUnit, AdminUnit.code == TargetScore.code)
        .where(TargetScore.run_id == run["id"])
        .order_by(TargetScore.rank)
        .limit(top)
    )
    return dict(run), [dict(r._mapping) for r in rows]
