"""Reconciling the real boundaries with the registry (geothai)."""

from __future__ import annotations

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from layers.geography.registry import check_registry
from layers.store.models import AdminUnit


def test_registry_gaps_in_the_shared_files(loaded_engine: Engine) -> None:
    with Session(loaded_engine) as session:
        result = check_registry(session)
        session.rollback()
    assert len(result.missing) == 14
    assert {u.level for u in result.missing} == {"subdistrict"}
    assert [r.code for r in result.retired] == ["104701", "105001", "530306"]
    tha_faek = result.retired[2]
    assert tha_faek.successors == ("530407",)
    assert "530407" in {u.code for u in result.missing}


def test_registry_only_units_are_stored_without_geometry_under_their_district(
    loaded_engine: Engine,
) -> None:
    with Session(loaded_engine) as session:
        stored = session.execute(
            select(AdminUnit.code, AdminUnit.parent_code, AdminUnit.name_en)
            .where(AdminUnit.source == "registry")
            .order_by(AdminUnit.code)
        ).all()
        assert len(stored) == 14
        assert ("104702", "1047", "Bang Na Nuea") in [tuple(r) for r in stored]
        assert (
            session.scalar(
                select(func.count()).where(
                    AdminUnit.source == "registry", AdminUnit.geom.is_not(None)
                )
            )
            == 0
        )
        not_listed = session.scalars(
            select(AdminUnit.code).where(AdminUnit.in_registry.is_(False)).order_by(AdminUnit.code)
        ).all()
        assert not_listed == ["104701", "105001", "530306"]
        assert session.scalar(select(func.count()).where(AdminUnit.in_registry.is_(None))) == 0


def test_checking_twice_stores_nothing_new(loaded_engine: Engine) -> None:
    with Session(loaded_engine) as session, session.begin():
        before = session.scalar(select(func.count()).select_from(AdminUnit))
        check_registry(session)
        assert session.scalar(select(func.count()).select_from(AdminUnit)) == before
