"""The official registry of codes (PyPI ``geothai``) against the loaded boundaries."""

from __future__ import annotations

import geothai
from geothai.abolished import abolished_areas
from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from geo.registry import Reconciliation, RegistryUnit, Retired, reconcile
from geo.vocab import ADMIN_LEVELS
from layers.store.models import AdminUnit


def registry_units() -> list[RegistryUnit]:
    """Every current province, district and subdistrict of the registry, parents first."""
    provinces, districts, subdistricts = [], [], []
    for p in geothai.provinces():
        provinces.append(RegistryUnit(p.code, "province", None, p.name_th, p.name_en))
        for d in geothai.districts(p.code):
            districts.append(RegistryUnit(d.code, "district", p.code, d.name_th, d.name_en))
            subdistricts += [
                RegistryUnit(s.code, "subdistrict", d.code, s.name_th, s.name_en)
                for s in geothai.subdistricts(d.code)
            ]
    return provinces + districts + subdistricts


def abolished_units() -> dict[str, Retired]:
    """The units the registry lists as abolished, by code, with what replaced them."""
    return {
        a.code: Retired(a.code, a.level, a.abolished_on, tuple(a.successors))
        for a in abolished_areas()
    }


def registry_version() -> str:
    """The registry's package and data version, as reports cite it."""
    return f"geothai {geothai.DATA_VERSION}"


def check_registry(session: Session) -> Reconciliation:
    """Reconcile the boundaries with the registry and store what the registry adds.

    Registry units with no polygon are stored without geometry (``source='registry'``, parent
    known) so later data there still rolls up to a district; every unit's ``in_registry`` flag
    is set.
    """
    polygons = session.execute(
        select(AdminUnit.code, AdminUnit.level).where(
            AdminUnit.geom.is_not(None), AdminUnit.level.in_(ADMIN_LEVELS)
        )
    ).all()
    units = registry_units()
    result = reconcile(((c, lvl) for c, lvl in polygons), units, abolished_units())
    for unit in result.missing:
        session.execute(
            insert(AdminUnit)
            .values(
                code=unit.code,
                level=unit.level,
                parent_code=unit.parent_code,
                name_th=unit.name_th,
                name_en=unit.name_en,
                source="registry",
                in_registry=True,
            )
            .on_conflict_do_update(
                index_elements=[AdminUnit.code],
                set_={"parent_code": unit.parent_code, "in_registry": True},
                where=AdminUnit.geom.is_(None),
            )
        )
    listed = [u.code for u in units]
    levels = AdminUnit.level.in_(ADMIN_LEVELS)
    session.execute(update(AdminUnit).where(levels).values(in_registry=AdminUnit.code.in_(listed)))
    return result
