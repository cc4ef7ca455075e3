"""What the public sees: aggregates only, no small counts, nothing recoverable by subtraction."""

from __future__ import annotations

import re
from collections.abc import Iterator

import httpx
import pytest
from sqlalchemy import text

from geo.vocab import DIMENSIONS, STATUSES
from layers.store.settings import Settings
from tests.factories import engine_for, serve

SENSITIVE = {"drugs", "informal_debt", "unfair_treatment", "no_safety"}


@pytest.fixture(scope="module")
def public(analysis_settings: Settings) -> Iterator[httpx.Client]:
    with serve(analysis_settings) as client:
        yield client


def cells(row: dict) -> dict[str, int | None]:
    out = {k: row[k] for k in ("households", "households_with_problems", "problems", "solved")}
    out |= {f"status:{k}": v for k, v in row["resolution"].items()}
    out |= {f"dimension:{k}": v for k, v in row["by_dimension"].items()}
    out |= {f"category:{k}": v for k, v in row["by_category"].items()}
    return out


def test_public_rollups_hide_small_counts_with_complements(
    public: httpx.Client, analysis_settings: Settings
) -> None:
    assert analysis_settings.database_url is not None
    engine = engine_for(analysis_settings.database_url)
    with engine.connect() as conn:
        subdistrict = conn.scalar(
            text("SELECT subdistrict_code FROM household GROUP BY 1 ORDER BY count(*) DESC LIMIT 1")
        )
    engine.dispose()
    asked = [
        ("", "province"),
        ("34", "district"),
        ("34", "subdistrict"),
        (subdistrict[:4], "subdistrict"),
        (subdistrict, "village"),
    ]
    hidden_somewhere = 0
    for area, level in asked:
        response = public.get("/stats", params={"area": area, "level": level})
        assert response.status_code == 200, response.text
        rows = [r for r in response.json() if r["households"] != 0]
        assert rows
        for row in rows:
            assert "household_id" not in row and "geometry" not in row
            published = cells(row)
            for name, value in published.items():
                k = 10 if name.split(":")[-1] in SENSITIVE else 5
                assert value is None or value == 0 or value >= k, (area, level, row["code"], name)
            if level in ("subdistrict", "village"):
                assert not SENSITIVE & set(row["by_category"]), (level, row["code"])
            # Row groups: never exactly one hidden cell.
            statuses = [published[f"status:{s}"] for s in STATUSES] + [published["problems"]]
            dimensions = [published[f"dimension:{d}"] for d in DIMENSIONS] + [published["problems"]]
            for group in (statuses, dimensions):
                assert sum(v is None for v in group) != 1, (area, level, row["code"])
            hidden_somewhere += sum(v is None for v in published.values())
        # Columns: the parent's figure is published, so never exactly one hidden child (an
        # only child is its parent, whose own row hides the same small counts).
        everyone = response.json()
        for name in cells(rows[0]):
            column = [cells(r).get(name) for r in everyone]
            assert len(column) == 1 or sum(v is None for v in column) != 1, (area, level, name)
    assert hidden_somewhere > 0  # the small synthetic survey does have small counts


def test_the_public_gets_no_records_and_no_point_layers(public: httpx.Client) -> None:
    for path in (
        "/households",
        "/problems",
        "/density/hexagons",
        "/overlay/water-access",
        "/layers/water_sources/features",
        "/targeting?level=district",
    ):
        assert public.get(path).status_code == 401, path


def test_public_hexagons_and_choropleths_hide_small_counts_and_sensitive_detail(
    public: httpx.Client,
) -> None:
    page = public.get("/maps/hexbin", params={"area": "34"})
    assert page.status_code == 200
    for key in ("households", "problems"):
        published = [int(n) for n in re.findall(rf'"{key}": (\d+)', page.text)]
        assert published and not [n for n in published if 0 < n < 5], key
    assert '"solved"' not in page.text and '"Point"' not in page.text
    for narrowed in ({"category": "drugs"}, {"dimension": "income"}, {"status": "referred"}):
        refused = public.get("/maps/hexbin", params={"area": "34", **narrowed})
        assert refused.status_code == 403 and "no category" in refused.json()["detail"]
    sensitive = public.get(
        "/maps/choropleth",
        params={"area": "34", "level": "subdistrict", "indicator": "category:drugs"},
    )
    assert sensitive.status_code == 403 and "district level" in sensitive.json()["detail"]
    district = public.get(
        "/maps/choropleth",
        params={"area": "34", "level": "district", "indicator": "category:drugs"},
    )
    assert district.status_code == 200
