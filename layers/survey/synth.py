"""Gather what the synthetic survey generator needs from the database, and write its files."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import pandas as pd
from sqlalchemy import Connection, select, text

from geo.errors import InvalidInputError
from geo.synth.survey import CATEGORY_WEIGHTS, Synthetic, synthesize, to_csv_bytes
from layers.store.models import ProblemCategory


def generate(
    conn: Connection,
    *,
    provinces: list[str] | None,
    households: int,
    seed: int,
    defects: float,
) -> Synthetic:
    """A synthetic survey of ``provinces`` (None: the whole country)."""
    subdistricts = gpd.read_postgis(
        text(
            "SELECT code, geom FROM admin_unit WHERE level = 'subdistrict' AND geom IS NOT NULL "
            "AND (CAST(:provinces AS text[]) IS NULL OR left(code, 2) = ANY(:provinces)) "
            "ORDER BY code"
        ),
        conn,
        geom_col="geom",
        params={"provinces": provinces},
    ).set_crs(4326, allow_override=True)
    if subdistricts.empty:
        raise InvalidInputError(f"no subdistrict polygons loaded for provinces {provinces}")
    rows = conn.execute(select(ProblemCategory.code, ProblemCategory.within_mandate)).all()
    categories = pd.DataFrame(rows, columns=["code", "within_mandate"])
    categories["weight"] = categories["code"].map(CATEGORY_WEIGHTS).fillna(1.0)
    return synthesize(subdistricts, categories, households, seed=seed, defects=defects)


def write(survey: Synthetic, out: Path, encoding: str = "utf-8") -> Path:
    """Write the survey CSV and, beside it, its defect key and its planted clusters.

    The key is ``NAME.key.csv``; the clusters ``NAME.clusters.csv`` (cluster, level, code, kind,
    relative_risk). Returns the key's path.
    """
    out.write_bytes(to_csv_bytes(survey.rows, survey.key, encoding))
    key = out.with_name(out.stem + ".key.csv")
    survey.key.to_csv(key, index=False)
    survey.clusters.to_csv(out.with_name(out.stem + ".clusters.csv"), index=False)
    return key
