"""The problem taxonomy: read from its editable YAML file, synced into ``problem_category``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from sqlalchemy import Connection, delete, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from geo.errors import InvalidInputError
from geo.vocab import Dimension
from layers.store.models import ProblemCategory


class Agency(BaseModel):
    """An agency a category's problems go to, named in English and Thai."""

    model_config = ConfigDict(extra="forbid")

    code: str = Field(pattern=r"^[a-z][a-z0-9_]{1,31}$", description="in data/agencies.yaml")
    name_en: str
    name_th: str


class Category(BaseModel):
    """One entry of the taxonomy file."""

    model_config = ConfigDict(extra="forbid")

    code: str = Field(pattern=r"^[a-z][a-z0-9_]{1,47}$")
    name_th: str = Field(min_length=1)
    name_en: str = Field(min_length=1)
    dimension: Dimension
    within_mandate: bool
    mandate: str
    sensitive: bool = False
    agencies: list[Agency] = Field(min_length=1)

    @field_validator("mandate", mode="before")
    @classmethod
    def _yaml_booleans(cls, value: object) -> object:
        # An unquoted yes/no in YAML arrives as a boolean.
        return {True: "yes", False: "no"}.get(value, value) if isinstance(value, bool) else value


def read_taxonomy(path: Path) -> list[Category]:
    """Read and validate the taxonomy file.

    Raises
    ------
    InvalidInputError
        Naming the entry (position and code) and the field that is wrong.
    """
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise InvalidInputError(f"{path}: cannot read the taxonomy file: {exc}") from exc
    entries = document.get("categories") if isinstance(document, dict) else None
    if not isinstance(entries, list) or not entries:
        raise InvalidInputError(f"{path}: expected a non-empty list under `categories:`")
    categories: list[Category] = []
    for position, entry in enumerate(entries, start=1):
        try:
            categories.append(Category.model_validate(entry))
        except ValidationError as exc:
            code = entry.get("code", "?") if isinstance(entry, dict) else "?"
            problems = "; ".join(
                f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors()
            )
            raise InvalidInputError(f"{path}: entry {position} ({code}): {problems}") from exc
    codes = [c.code for c in categories]
    repeated = sorted({c for c in codes if codes.count(c) > 1})
    if repeated:
        raise InvalidInputError(f"{path}: codes repeat: {', '.join(repeated)}")
    return categories


def sync_taxonomy(session: Session, categories: list[Category]) -> dict[str, int]:
    """Make ``problem_category`` hold exactly ``categories``; returns counts of the changes."""
    rows = [
        {
            **c.model_dump(exclude={"agencies"}),
            "agencies": [a.model_dump() for a in c.agencies],
            "default_agency": c.agencies[0].name_en,
            "sort_order": order,
        }
        for order, c in enumerate(categories, start=1)
    ]
    before = set(session.scalars(select(ProblemCategory.code)))
    stmt = insert(ProblemCategory).values(rows)
    session.execute(
        stmt.on_conflict_do_update(
            index_elements=[ProblemCategory.code],
            set_={k: stmt.excluded[k] for k in rows[0] if k != "code"},
        )
    )
    codes = [r["code"] for r in rows]
    removed = len(
        session.scalars(
            delete(ProblemCategory)
            .where(ProblemCategory.code.not_in(codes))
            .returning(ProblemCategory.code)
        ).all()
    )
    return {
        "categories": len(rows),
        "added": len(set(codes) - before),
        "removed": removed,
    }


def categories(conn: Connection) -> list[dict[str, Any]]:
    """The categories in force (code, names, dimension, within the mandate), by dimension."""
    rows = conn.execute(
        select(
            ProblemCategory.code,
            ProblemCategory.name_th,
            ProblemCategory.name_en,
            ProblemCategory.dimension,
            ProblemCategory.within_mandate,
        ).order_by(ProblemCategory.dimension, ProblemCategory.code)
    )
    return [dict(r._mapping) for r in rows]
