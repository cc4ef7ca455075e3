"""Reconcile boundary polygons with the official registry of administrative codes."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from geo.vocab import ADMIN_LEVELS


@dataclass(frozen=True)
class RegistryUnit:
    """One unit of the registry (DOPA codes, as published in the ``geothai`` package)."""

    code: str
    level: str
    parent_code: str | None
    name_th: str
    name_en: str


@dataclass(frozen=True)
class Retired:
    """A polygon whose code the registry no longer lists, and what replaced it."""

    code: str
    level: str
    abolished_on: str | None = None
    successors: tuple[str, ...] = ()


@dataclass
class Reconciliation:
    """What the boundaries and the registry disagree on, level by level."""

    missing: list[RegistryUnit] = field(default_factory=list)
    """Registry units with no polygon."""
    retired: list[Retired] = field(default_factory=list)
    """Polygons whose code the registry does not list."""


def reconcile(
    polygons: Iterable[tuple[str, str]],
    registry: Iterable[RegistryUnit],
    abolished: dict[str, Retired] | None = None,
) -> Reconciliation:
    """Compare the codes that have polygons with the registry's codes.

    Parameters
    ----------
    polygons : iterable of (code, level)
        Units that have a boundary polygon.
    registry : iterable of RegistryUnit
        Every current unit of the registry.
    abolished : dict, optional
        Known abolished units by code, to say what replaced a retired polygon.

    Returns
    -------
    Reconciliation
        Both lists ordered by level (province first) and code.
    """
    rank: dict[str, int] = {level: n for n, level in enumerate(ADMIN_LEVELS)}
    have = {(code, level) for code, level in polygons}
    units = list(registry)
    listed = {(u.code, u.level) for u in units}
    missing = sorted(
        (u for u in units if (u.code, u.level) not in have),
        key=lambda u: (rank.get(u.level, 9), u.code),
    )
    abolished = abolished or {}
    retired = [
        abolished.get(code, Retired(code, level))
        for code, level in sorted(have - listed, key=lambda p: (rank.get(p[1], 9), p[0]))
    ]
    return Reconciliation(missing=missing, retired=retired)
