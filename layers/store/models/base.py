"""The declarative base every table derives from."""

from __future__ import annotations

from typing import Any, ClassVar

from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase


class Base(DeclarativeBase):
    """The declarative base: ``dict`` and ``list`` columns are stored as JSONB."""

    type_annotation_map: ClassVar[dict[Any, Any]] = {dict[str, Any]: JSONB, list[Any]: JSONB}
