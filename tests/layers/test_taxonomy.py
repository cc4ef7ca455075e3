"""The problem taxonomy file and its table."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from geo.errors import InvalidInputError
from layers.store.models import ProblemCategory
from layers.store.settings import Settings
from layers.survey.taxonomy import read_taxonomy, sync_taxonomy

TAXONOMY = Settings().taxonomy_file


def test_the_brief_taxonomy_is_in_the_database(loaded_engine: Engine) -> None:
    with Session(loaded_engine) as session:
        rows = session.scalars(select(ProblemCategory).order_by(ProblemCategory.sort_order)).all()
    assert len(rows) == 14
    escalate = {r.code for r in rows if not r.within_mandate}
    assert escalate == {"no_land_title", "child_out_of_school", "illiteracy"}
    assert {r.dimension for r in rows} == {
        "health",
        "living_conditions",
        "education",
        "income",
        "public_services",
    }
    land = next(r for r in rows if r.code == "no_land_title")
    assert land.default_agency == "Department of Lands"
    assert land.agencies[1]["name_en"] == "Agricultural Land Reform Office"
    assert {r.code for r in rows if r.sensitive} == {
        "drugs",
        "informal_debt",
        "unfair_treatment",
        "no_safety",
    }


def test_an_edited_file_is_synced(scratch_engine: Engine, tmp_path: Path) -> None:
    document = yaml.safe_load(TAXONOMY.read_text(encoding="utf-8"))
    document["categories"] = document["categories"][:2]
    document["categories"][0]["name_en"] = "No house number"
    path = tmp_path / "taxonomy.yaml"
    path.write_text(yaml.safe_dump(document, allow_unicode=True), encoding="utf-8")
    with Session(scratch_engine) as session, session.begin():
        counts = sync_taxonomy(session, read_taxonomy(path))
    assert counts == {"categories": 2, "added": 0, "removed": 12}
    with Session(scratch_engine) as session:
        assert session.get(ProblemCategory, "no_house_registration").name_en == "No house number"  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        (
            {"dimension": "happiness"},
            r"entry 1 \(no_house_registration\): dimension: Input should be",
        ),
        ({"colour": "red"}, r"colour: Extra inputs are not permitted"),
        ({"agencies": []}, r"agencies: List should have at least 1 item"),
    ],
)
def test_a_bad_entry_is_named(tmp_path: Path, entry: dict[str, object], message: str) -> None:
    document = yaml.safe_load(TAXONOMY.read_text(encoding="utf-8"))
    document["categories"][0].update(entry)
    path = tmp_path / "taxonomy.yaml"
    path.write_text(yaml.safe_dump(document, allow_unicode=True), encoding="utf-8")
    with pytest.raises(InvalidInputError, match=message):
        read_taxonomy(path)
