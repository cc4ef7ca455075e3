"""Agencies, offices, routing and deadlines: read from their editable YAML file and synced.

The file names agencies and the *kinds* of office each has (national, one per province, one
per district, groups of districts); the offices themselves are generated from the registry of
administrative codes (PyPI ``geothai``), so a new district gets its office on the next
``bamrung db migrate``. Single offices, and changes to generated ones (a contact, a location, a
webhook), are listed by code. Routes become ``route`` rows (category, area prefix, office): the
most specific area wins, in ``geo.cases.routing`` and in the SQL that refers in bulk alike.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from geo.cases.routing import Rule
from geo.errors import InvalidInputError
from geo.registry import RegistryUnit
from layers.store.models import Agency, Case, Deadline, Office, ProblemCategory, Route

OfficeLevel = Literal["nation", "province", "district", "districts"]
CODE = r"^[a-z][a-z0-9_-]{1,47}$"


class OfficeKind(BaseModel):
    """How an agency's offices of one level are named (``{name_th}``: the area's name)."""

    model_config = ConfigDict(extra="forbid")

    name_th: str = Field(min_length=1)
    name_en: str = Field(min_length=1)
    synthetic: bool = False
    size: int | None = Field(default=None, ge=1, description="districts per office")


class AgencyEntry(BaseModel):
    """One agency of the file."""

    model_config = ConfigDict(extra="forbid")

    code: str = Field(pattern=r"^[a-z][a-z0-9_]{1,31}$")
    name_th: str = Field(min_length=1)
    name_en: str = Field(min_length=1)
    ministry: str = Field(min_length=1)
    offices: dict[OfficeLevel, OfficeKind] = Field(min_length=1)

    @model_validator(mode="after")
    def _groups_have_a_size(self) -> AgencyEntry:
        groups = self.offices.get("districts")
        if groups is not None and groups.size is None:
            raise ValueError("offices.districts needs a size (districts per office)")
        return self


class OfficeEntry(BaseModel):
    """A single office, or what changes in a generated one (matched by code)."""

    model_config = ConfigDict(extra="forbid")

    code: str = Field(pattern=CODE)
    agency: str | None = None
    name_th: str | None = None
    name_en: str | None = None
    areas: list[str] | None = None
    contact: str | None = None
    location: tuple[float, float] | None = Field(default=None, description="lon, lat")
    channel: Literal["none", "webhook"] | None = None
    webhook_url: str | None = Field(default=None, pattern=r"^https?://")


class RouteEntry(BaseModel):
    """Categories to the covering office of an agency's level, or an area to one office."""

    model_config = ConfigDict(extra="forbid")

    categories: list[str] | Literal["within_mandate", "out_of_mandate"]
    agency: str | None = None
    level: OfficeLevel | None = None
    area: str | None = Field(default=None, pattern=r"^(\d{2}|\d{4}|\d{6})$")
    office: str | None = None

    @model_validator(mode="after")
    def _one_form(self) -> RouteEntry:
        by_agency = self.agency is not None and self.level is not None
        by_area = self.area is not None and self.office is not None
        if by_agency == by_area:
            raise ValueError("give either agency and level, or area and office")
        return self


class DeadlineEntry(BaseModel):
    """Working days to acknowledge and resolve, for a category, an agency, both or neither."""

    model_config = ConfigDict(extra="forbid")

    category: str = ""
    agency: str = ""
    acknowledge: int = Field(ge=0, le=365)
    resolve: int = Field(ge=0, le=3650)


class AgenciesFile(BaseModel):
    """The whole file."""

    model_config = ConfigDict(extra="forbid")

    district_team: str = Field(description="the agency whose district offices work cases")
    agencies: list[AgencyEntry] = Field(min_length=1)
    offices: list[OfficeEntry] = Field(default_factory=list)
    routes: list[RouteEntry] = Field(min_length=1)
    deadlines: list[DeadlineEntry] = Field(min_length=1)


@dataclass
class OfficeRow:
    """An office as stored."""

    code: str
    agency: str
    level: str
    areas: list[str]
    name_th: str
    name_en: str
    synthetic: bool = False
    contact: str | None = None
    location: tuple[float, float] | None = None
    channel: str = "none"
    webhook_url: str | None = None


@dataclass
class Plan:
    """What the file says, expanded over the registry: the rows to store."""

    agencies: list[AgencyEntry]
    offices: list[OfficeRow]
    rules: list[Rule]
    district_team: str = ""
    deadlines: list[DeadlineEntry] = field(default_factory=list)


def read_agencies(path: Path) -> AgenciesFile:
    """Read and validate the agencies file.

    Raises
    ------
    InvalidInputError
        Naming the section, the entry and the field that is wrong.
    """
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise InvalidInputError(f"{path}: cannot read the agencies file: {exc}") from exc
    try:
        return AgenciesFile.model_validate(document)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors()
        )
        raise InvalidInputError(f"{path}: {problems}") from exc


def expand(
    document: AgenciesFile,
    units: list[RegistryUnit],
    categories: dict[str, bool],
    path: Path | str = "agencies file",
) -> Plan:
    """The offices and routing rules the file describes, over the registry's units.

    Parameters
    ----------
    document
        The file, as read.
    units
        The registry's provinces and districts (subdistricts are ignored).
    categories
        Every category of the taxonomy: code → within the ministry's mandate.

    Raises
    ------
    InvalidInputError
        For a route or an office naming what does not exist.
    """
    provinces = [u for u in units if u.level == "province"]
    districts = [u for u in units if u.level == "district"]
    offices: dict[str, OfficeRow] = {}
    for agency in document.agencies:
        for level, kind in agency.offices.items():
            for row in _generate(agency.code, level, kind, provinces, districts):
                offices[row.code] = row
    agencies = {a.code for a in document.agencies}
    team = next((a for a in document.agencies if a.code == document.district_team), None)
    if team is None or "district" not in team.offices:
        raise InvalidInputError(
            f"{path}: district_team: {document.district_team!r} is not an agency with an office "
            "in every district"
        )
    for position, entry in enumerate(document.offices, start=1):
        where = f"{path}: offices entry {position} ({entry.code})"
        found = offices.get(entry.code)
        if found is None:
            if not (entry.agency and entry.name_th and entry.name_en and entry.areas):
                raise InvalidInputError(
                    f"{where}: no generated office has this code; a new office needs agency, "
                    "name_th, name_en and areas"
                )
            found = offices[entry.code] = OfficeRow(
                entry.code, entry.agency, "districts", [], entry.name_th, entry.name_en
            )
        for name in ("agency", "name_th", "name_en", "areas", "contact", "location"):
            value = getattr(entry, name)
            if value is not None:
                setattr(found, name, value)
        if entry.areas is not None:
            found.level = _level_of(entry.areas)
        if entry.channel is not None:
            found.channel = entry.channel
            found.webhook_url = entry.webhook_url if entry.channel == "webhook" else None
        if (found.channel == "webhook") != (found.webhook_url is not None):
            raise InvalidInputError(
                f"{where}: channel webhook needs a webhook_url, none needs none"
            )
        if found.agency not in agencies:
            raise InvalidInputError(f"{where}: agency {found.agency!r} is not in the file")
    rules: list[Rule] = []
    for position, route in enumerate(document.routes, start=1):
        where = f"{path}: routes entry {position}"
        codes = _categories(route.categories, categories, where)
        if route.office is not None:
            if route.office not in offices:
                raise InvalidInputError(f"{where}: office {route.office!r} does not exist")
            assert route.area is not None
            rules += [Rule(c, route.area, route.office) for c in codes]
            continue
        chosen = [
            o for o in offices.values() if o.agency == route.agency and o.level == route.level
        ]
        if not chosen:
            raise InvalidInputError(
                f"{where}: agency {route.agency!r} has no offices of level {route.level}"
            )
        rules += [Rule(c, area, o.code) for o in chosen for area in o.areas for c in codes]
    for position, deadline in enumerate(document.deadlines, start=1):
        where = f"{path}: deadlines entry {position}"
        if deadline.category and deadline.category not in categories:
            raise InvalidInputError(
                f"{where}: category {deadline.category!r} is not in the taxonomy"
            )
        if deadline.agency and deadline.agency not in agencies:
            raise InvalidInputError(f"{where}: agency {deadline.agency!r} is not in the file")
    keys = [(d.category, d.agency) for d in document.deadlines]
    if ("", "") not in keys or len(set(keys)) < len(keys):
        raise InvalidInputError(
            f"{path}: deadlines need one entry naming neither category nor agency (the default), "
            "and no two entries for the same category and agency"
        )
    return Plan(
        document.agencies,
        list(offices.values()),
        rules,
        deadlines=document.deadlines,
        district_team=document.district_team,
    )


def _generate(
    agency: str,
    level: str,
    kind: OfficeKind,
    provinces: list[RegistryUnit],
    districts: list[RegistryUnit],
) -> list[OfficeRow]:
    if level == "nation":
        return [OfficeRow(f"{agency}-th", agency, level, [""], kind.name_th, kind.name_en)]
    if level in ("province", "district"):
        return [
            OfficeRow(
                f"{agency}-{u.code}",
                agency,
                level,
                [u.code],
                kind.name_th.format(name_th=u.name_th, name_en=u.name_en),
                kind.name_en.format(name_th=u.name_th, name_en=u.name_en),
                kind.synthetic,
            )
            for u in (provinces if level == "province" else districts)
        ]
    assert kind.size is not None
    rows = []
    for province in provinces:
        inside = sorted(d.code for d in districts if d.parent_code == province.code)
        for n, start in enumerate(range(0, len(inside), kind.size), start=1):
            names = {"name_th": province.name_th, "name_en": province.name_en, "n": n}
            rows.append(
                OfficeRow(
                    f"{agency}-{province.code}-{n}",
                    agency,
                    "districts",
                    inside[start : start + kind.size],
                    kind.name_th.format(**names),
                    kind.name_en.format(**names),
                    kind.synthetic,
                )
            )
    return rows


def _level_of(areas: list[str]) -> str:
    if areas == [""]:
        return "nation"
    if len(areas) == 1:
        return {2: "province", 4: "district"}.get(len(areas[0]), "districts")
    return "districts"


def _categories(given: list[str] | str, categories: dict[str, bool], where: str) -> list[str]:
    if given == "within_mandate":
        return [c for c, inside in categories.items() if inside]
    if given == "out_of_mandate":
        return [c for c, inside in categories.items() if not inside]
    unknown = sorted(set(given) - set(categories))
    if unknown:
        raise InvalidInputError(f"{where}: categories not in the taxonomy: {', '.join(unknown)}")
    return list(given)


def sync_agencies(session: Session, plan: Plan) -> dict[str, int]:
    """Make the agency, office, route and deadline tables hold exactly ``plan``.

    Raises
    ------
    InvalidInputError
        If an office that cases are handed to would disappear, or a category of the taxonomy
        names an agency the file lacks.
    """
    codes = {a.code for a in plan.agencies}
    named = session.execute(select(ProblemCategory.code, ProblemCategory.agencies)).all()
    for category, agencies in named:
        missing = sorted({a.get("code") for a in agencies} - codes - {None})
        if missing:
            raise InvalidInputError(
                f"taxonomy category {category} names agencies the agencies file lacks: "
                + ", ".join(missing)
            )
    offices = {o.code for o in plan.offices}
    in_use = session.scalars(select(Case.office).distinct()).all()
    gone = sorted(set(in_use) - offices)
    if gone:
        raise InvalidInputError(
            "offices with cases cannot be removed from the agencies file: " + ", ".join(gone)
        )
    rows = [
        {**a.model_dump(exclude={"offices"}), "district_team": a.code == plan.district_team}
        for a in plan.agencies
    ]
    stmt = insert(Agency).values(rows)
    session.execute(
        stmt.on_conflict_do_update(
            index_elements=[Agency.code], set_={k: stmt.excluded[k] for k in rows[0]}
        )
    )
    office_rows = [
        {
            "code": o.code,
            "agency": o.agency,
            "level": o.level,
            "areas": o.areas,
            "name_th": o.name_th,
            "name_en": o.name_en,
            "synthetic": o.synthetic,
            "contact": o.contact,
            "geom": None
            if o.location is None
            else f"SRID=4326;POINT({o.location[0]} {o.location[1]})",
            "channel": o.channel,
            "webhook_url": o.webhook_url,
        }
        for o in plan.offices
    ]
    for start in range(0, len(office_rows), 2_000):
        stmt = insert(Office).values(office_rows[start : start + 2_000])
        session.execute(
            stmt.on_conflict_do_update(
                index_elements=[Office.code],
                set_={k: stmt.excluded[k] for k in office_rows[0] if k != "code"},
            )
        )
    session.execute(delete(Route))
    session.execute(delete(Office).where(Office.code.not_in(offices)))
    session.execute(delete(Agency).where(Agency.code.not_in(codes)))
    rules = sorted({(r.category, r.area, r.office) for r in plan.rules})
    for start in range(0, len(rules), 5_000):
        chunk = rules[start : start + 5_000]
        session.execute(
            insert(Route).values([{"category": c, "area": a, "office": o} for c, a, o in chunk])
        )
    session.execute(delete(Deadline))
    session.execute(
        insert(Deadline).values(
            [
                {
                    "category": d.category,
                    "agency": d.agency,
                    "acknowledge_days": d.acknowledge,
                    "resolve_days": d.resolve,
                }
                for d in plan.deadlines
            ]
        )
    )
    return {"agencies": len(rows), "offices": len(office_rows), "routes": len(rules)}
