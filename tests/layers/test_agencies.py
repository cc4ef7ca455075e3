"""The agencies file: offices generated from the registry, routes and deadlines, and its errors."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
import yaml

from geo.errors import InvalidInputError
from layers.cases.agencies import AgenciesFile, expand, read_agencies
from layers.geography.registry import registry_units
from layers.store.settings import Settings
from layers.survey.taxonomy import read_taxonomy

SETTINGS = Settings()
UNITS = [u for u in registry_units() if u.level != "subdistrict"]
CATEGORIES = {c.code: c.within_mandate for c in read_taxonomy(SETTINGS.taxonomy_file)}


def test_the_shipped_file_has_an_office_where_the_agencies_have_them() -> None:
    plan = expand(read_agencies(SETTINGS.agencies_file), UNITS, CATEGORIES)
    provinces = [u.code for u in UNITS if u.level == "province"]
    districts = [u.code for u in UNITS if u.level == "district"]
    assert (len(provinces), len(districts)) == (77, 928)
    by = Counter((o.agency, o.level) for o in plan.offices)
    assert by["dopa", "district"] == 928 and by["dopa", "province"] == 77
    assert all(by[a.code, "nation"] == 1 for a in plan.agencies)
    # The education service areas cover every district exactly once, and say they are synthetic.
    groups = [o for o in plan.offices if o.level == "districts"]
    covered = Counter(d for o in groups for d in o.areas)
    assert set(covered) == set(districts) and set(covered.values()) == {1}
    assert all(o.synthetic and o.agency == "obec" for o in groups)
    assert all(o.areas[0][:2] == o.code.split("-")[1] for o in groups)
    thai = next(o for o in plan.offices if o.code == "dopa-3401")
    assert thai.name_th == "ที่ว่าการอำเภอเมืองอุบลราชธานี"
    # Every agency the taxonomy names is in the file.
    named = yaml.safe_load(SETTINGS.taxonomy_file.read_text(encoding="utf-8"))
    codes = {a["code"] for c in named["categories"] for a in c["agencies"]}
    assert codes <= {a.code for a in plan.agencies}


def changed(tmp_path: Path, edit: object) -> Path:
    document = yaml.safe_load(SETTINGS.agencies_file.read_text(encoding="utf-8"))
    edit(document)  # type: ignore[operator]
    path = tmp_path / "agencies.yaml"
    path.write_text(yaml.safe_dump(document, allow_unicode=True), encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda d: d["routes"].append({"categories": ["no_such"], "agency": "dol",
                                        "level": "province"}),
         r"routes entry 5: categories not in the taxonomy: no_such"),
        (lambda d: d["routes"].append({"categories": ["drugs"], "agency": "eef",
                                        "level": "province"}),
         r"routes entry 5: agency 'eef' has no offices of level province"),
        (lambda d: d["deadlines"].pop(0), r"deadlines need one entry naming neither"),
        (lambda d: d["offices"].append({"code": "dol-34", "channel": "webhook"}),
         r"offices entry 5 \(dol-34\): channel webhook needs a webhook_url"),
        (lambda d: d["offices"].append({"code": "new-office"}),
         r"a new office needs agency, name_th, name_en and areas"),
        (lambda d: d.update(district_team="dol"), r"district_team: 'dol' is not an agency"),
        (lambda d: d["agencies"][0].update(extra=1), r"agencies.0.extra: Extra inputs"),
    ],
)  # fmt: skip
def test_a_wrong_entry_is_named_with_its_field(tmp_path: Path, edit: object, message: str) -> None:
    path = changed(tmp_path, edit)
    with pytest.raises(InvalidInputError, match=message):
        expand(read_agencies(path), UNITS, CATEGORIES, path)


def test_the_model_refuses_a_route_of_both_forms() -> None:
    with pytest.raises(ValueError, match="either agency and level, or area and office"):
        AgenciesFile.model_validate(
            {
                "district_team": "dopa",
                "agencies": [],
                "routes": [{"categories": ["drugs"], "agency": "dopa", "level": "district",
                            "area": "34", "office": "dopa-34"}],
                "deadlines": [],
            }
        )  # fmt: skip
