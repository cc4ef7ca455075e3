"""Targeting runs: rank the areas (or households) of an area for action, and store the ranking."""

from __future__ import annotations

import time
from pathlib import Path

import pandas as pd
import yaml
from sqlalchemy import Connection, insert, select, text

from geo.errors import InvalidInputError
from geo.targeting import TargetingConfig, area_components, score
from layers.models import ProblemCategory, TargetRun, TargetScore
from layers.overlay import zone_exposure
from layers.stats import area_above, latest_round, resolve_area, rollup

WATER_ZONES = ("flood_zones", "drought_zones")
# Raw components per household of an area.
HOUSEHOLDS = """
SELECT h.household_id AS code, h.subdistrict_code,
    count(p.id) AS problems,
    count(p.id) FILTER (WHERE p.status NOT IN ('solved_by_agency', 'solved_by_household'))
        AS unsolved,
    coalesce(sum(coalesce((CAST(:severity AS jsonb) ->> p.category)::float, :default_severity))
        FILTER (WHERE p.id IS NOT NULL), 0) AS severity,
    count(p.id) FILTER (WHERE NOT c.within_mandate) AS outside,
    EXISTS (SELECT 1 FROM layer_part z WHERE z.kind = ANY(:zones)
            AND ST_Intersects(z.geom, h.geom)) AS in_zone
FROM household h
JOIN problem p ON p.household_id = h.household_id AND p.round = h.round
JOIN problem_category c ON c.code = p.category
WHERE h.round = :round AND h.subdistrict_code LIKE :prefix
GROUP BY h.household_id, h.subdistrict_code, h.geom
"""


def load_config(path: Path) -> TargetingConfig:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise InvalidInputError(f"{path}: cannot read the targeting configuration ({exc})") from exc
    return TargetingConfig.from_dict(data)


def target_areas(
    conn: Connection,
    config: TargetingConfig,
    *,
    area: str,
    level: str,
    round_: int | None = None,
) -> tuple[int, pd.DataFrame]:
    """Rank the surveyed child areas of ``area``; the ranking is stored as a run."""
    started = time.perf_counter()
    parent = area_above(conn, area, level)
    round_ = round_ or latest_round(conn)
    figures = pd.DataFrame(rollup(conn, area=area, level=level, round_=round_)).set_index("code")
    figures = figures[figures["households"] > 0]
    if figures.empty:
        raise InvalidInputError(f"no surveyed {level} in {parent.code or 'Thailand'}")
    exposure = zone_exposure(conn, kinds=WATER_ZONES, area=area, level=level, round_=round_)
    water = (exposure.set_index("code")["share_in_zone_pct"].astype(float) / 100).fillna(0.0)
    within = dict(conn.execute(select(ProblemCategory.code, ProblemCategory.within_mandate)).all())
    ranked = score(area_components(figures, within, config, water), config)
    ranked = ranked.join(figures[["name_th", "name_en", "households", "problems"]])
    run_id = conn.scalar(
        insert(TargetRun)
        .values(
            level=level,
            area=area,
            round=round_,
            config={
                "weights": config.weights,
                "severity": config.severity,
                "default_severity": config.default_severity,
            },
            seconds=time.perf_counter() - started,
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


def target_households(
    conn: Connection,
    config: TargetingConfig,
    *,
    area: str,
    round_: int | None = None,
) -> pd.DataFrame:
    """Rank the households with problems in a district or subdistrict."""
    parent = resolve_area(conn, area)
    if parent.level not in ("district", "subdistrict"):
        raise InvalidInputError("households are ranked inside a district or subdistrict")
    round_ = round_ or latest_round(conn)
    params = {
        "round": round_,
        "prefix": parent.code + "%",
        "severity": pd.Series(config.severity).to_json(),
        "default_severity": config.default_severity,
        "zones": list(WATER_ZONES),
    }
    result = conn.execute(text(HOUSEHOLDS), params)
    raw = pd.DataFrame(result.all(), columns=list(result.keys())).set_index("code")
    components = pd.DataFrame(
        {
            "burden": raw["problems"].astype(float),
            "unresolved": raw["unsolved"] / raw["problems"],
            "severity": raw["severity"].astype(float),
            "out_of_mandate": raw["outside"] / raw["problems"],
            "water_risk": raw["in_zone"].astype(float),
        }
    )
    ranked = score(components, config)
    return ranked.join(raw[["subdistrict_code"]])


def _plain(value: object) -> object:
    return value.item() if hasattr(value, "item") else value
