"""Roll-ups and stored analysis runs: spatial weights, hotspots, targeting."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    String,
    Text,
    func,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column

from layers.store.models.base import Base


class Rollup(Base):
    """Counts per round and area, kept current by triggers (see migration 0003).

    ``code`` is '' for the country, else a 2-, 4- or 6-digit area code; ``key`` is
    ``households``, ``affected`` and ``affected:<dimension>`` (households with problems), and
    ``status:<s>``, ``category:<c>``, ``dimension:<d>``, ``dimension_status:<d>:<s>`` (problems).
    """

    __tablename__ = "rollup"

    round: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(6, collation="C"), primary_key=True)
    key: Mapped[str] = mapped_column(Text(collation="C"), primary_key=True)
    n: Mapped[int] = mapped_column(BigInteger)


class SpatialWeights(Base):
    """Contiguity weights over a level's units, built once per boundary version."""

    __tablename__ = "spatial_weights"

    id: Mapped[int] = mapped_column(primary_key=True)
    level: Mapped[str] = mapped_column(String(16))
    method: Mapped[str] = mapped_column(Text)
    boundaries: Mapped[str] = mapped_column(Text)
    ids: Mapped[list[str]] = mapped_column(ARRAY(Text))
    focal: Mapped[list[int]] = mapped_column(ARRAY(Integer))
    neighbor: Mapped[list[int]] = mapped_column(ARRAY(Integer))
    seconds: Mapped[float] = mapped_column(Float)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class HotspotRun(Base):
    """One hotspot analysis: an indicator over a level's units in an area and round."""

    __tablename__ = "hotspot_run"

    id: Mapped[int] = mapped_column(primary_key=True)
    level: Mapped[str] = mapped_column(String(16))
    area: Mapped[str] = mapped_column(String(6))
    round: Mapped[int] = mapped_column(Integer)
    indicator: Mapped[str] = mapped_column(Text)
    weights_id: Mapped[int] = mapped_column(ForeignKey("spatial_weights.id"))
    parameters: Mapped[dict[str, Any]] = mapped_column()
    seconds: Mapped[float] = mapped_column(Float)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class HotspotResult(Base):
    """One unit's value, Gi* and Local Moran statistics and classes in a hotspot run."""

    __tablename__ = "hotspot_result"

    run_id: Mapped[int] = mapped_column(
        ForeignKey("hotspot_run.id", ondelete="CASCADE"), primary_key=True
    )
    code: Mapped[str] = mapped_column(String(6), primary_key=True)
    value: Mapped[float] = mapped_column(Float)
    gi_z: Mapped[float | None] = mapped_column(Float)
    gi_p: Mapped[float | None] = mapped_column(Float)
    gi_class: Mapped[str] = mapped_column(String(16))
    moran_i: Mapped[float | None] = mapped_column(Float)
    moran_z: Mapped[float | None] = mapped_column(Float)
    moran_p: Mapped[float | None] = mapped_column(Float)
    moran_quadrant: Mapped[str | None] = mapped_column(String(2))
    moran_class: Mapped[str] = mapped_column(String(16))


class TargetRun(Base):
    """One targeting ranking of a level's units in an area and round, with its configuration."""

    __tablename__ = "target_run"

    id: Mapped[int] = mapped_column(primary_key=True)
    level: Mapped[str] = mapped_column(String(16))
    area: Mapped[str] = mapped_column(String(6))
    round: Mapped[int] = mapped_column(Integer)
    config: Mapped[dict[str, Any]] = mapped_column()
    seconds: Mapped[float] = mapped_column(Float)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    fingerprint: Mapped[str | None] = mapped_column(String(64), index=True)
    """A digest of what the run was computed from: a view reuses the run while it is the same."""


class TargetScore(Base):
    """One unit's rank, score and components in a targeting run."""

    __tablename__ = "target_score"

    run_id: Mapped[int] = mapped_column(
        ForeignKey("target_run.id", ondelete="CASCADE"), primary_key=True
    )
    code: Mapped[str] = mapped_column(String(6), primary_key=True)
    rank: Mapped[int] = mapped_column(Integer)
    score: Mapped[float] = mapped_column(Float)
    components: Mapped[dict[str, Any]] = mapped_column()
