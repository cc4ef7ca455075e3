"""An explainable priority score: weighted, min–max-scaled components, each reported.

Components (raw): ``burden`` (problems per 1,000 households), ``unresolved`` (share of problems
not solved), ``severity`` (severity-weighted problems per 1,000 households), ``out_of_mandate``
(share of problems outside the ministry's mandate) and ``water_risk`` (share of households in a
flood or drought zone). Each is scaled to 0–1 over the units being ranked; the score is the
weighted mean × 100. Ties are broken by the unit's id, so a ranking is reproducible.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from geo.errors import InvalidInputError
from geo.vocab import SOLVED

COMPONENTS = ("burden", "unresolved", "severity", "out_of_mandate", "water_risk")


@dataclass(frozen=True)
class TargetingConfig:
    """The weights of the score's components, and the severity of each problem category."""

    weights: dict[str, float]
    severity: dict[str, float] = field(default_factory=dict)
    default_severity: float = 1.0

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TargetingConfig:
        """Read and check a configuration (the parsed ``targeting.yaml``)."""
        weights = {str(k): float(v) for k, v in (data.get("weights") or {}).items()}
        unknown = set(weights) - set(COMPONENTS)
        if unknown:
            raise InvalidInputError(
                f"weights: unknown component(s) {', '.join(sorted(unknown))}; "
                f"known: {', '.join(COMPONENTS)}"
            )
        if any(w < 0 for w in weights.values()) or sum(weights.values()) <= 0:
            raise InvalidInputError("weights: must be ≥ 0 and not all 0")
        severity = {str(k): float(v) for k, v in (data.get("severity") or {}).items()}
        return cls(weights, severity, float(data.get("default_severity", 1.0)))


def area_components(
    figures: pd.DataFrame,
    within_mandate: dict[str, bool],
    config: TargetingConfig,
    water_risk: pd.Series | None = None,
) -> pd.DataFrame:
    """Raw components per area from roll-up figures.

    Parameters
    ----------
    figures : DataFrame
        Indexed by area code, with ``households``, ``problems``, ``resolution`` (dict by status)
        and ``by_category`` (dict by category), as ``geo.stats.summarise`` gives them.
    within_mandate : dict
        Category code → whether it is within the ministry's mandate.
    config : TargetingConfig
    water_risk : Series, optional
        Share (0–1) of each area's households in a flood or drought zone; 0 when absent.
    """
    households = figures["households"].astype(float).where(figures["households"] > 0)
    problems = figures["problems"].astype(float)
    solved = pd.Series(
        [sum(r.get(s, 0) for s in SOLVED) for r in figures["resolution"]],
        index=figures.index,
        dtype=float,
    )
    weighted = pd.Series(
        [
            sum(n * config.severity.get(c, config.default_severity) for c, n in r.items())
            for r in figures["by_category"]
        ],
        index=figures.index,
        dtype=float,
    )
    outside = pd.Series(
        [
            sum(n for c, n in r.items() if not within_mandate.get(c, True))
            for r in figures["by_category"]
        ],
        index=figures.index,
        dtype=float,
    )
    with np.errstate(invalid="ignore", divide="ignore"):
        out = pd.DataFrame(
            {
                "burden": 1000 * problems / households,
                "unresolved": ((problems - solved) / problems.where(problems > 0)),
                "severity": 1000 * weighted / households,
                "out_of_mandate": outside / problems.where(problems > 0),
                "water_risk": (
                    water_risk.reindex(figures.index) if water_risk is not None else 0.0
                ),
            },
            index=figures.index,
        )
    return out.fillna(0.0)


def score(components: pd.DataFrame, config: TargetingConfig) -> pd.DataFrame:
    """Scaled components, weighted contributions, the score and the rank (1 = act first).

    Returns
    -------
    DataFrame
        Sorted by rank; columns ``rank``, ``score``, then for each component its raw value,
        ``<component>_scaled`` (0–1) and ``<component>_points`` (its share of the score).
    """
    missing = [c for c in config.weights if c not in components]
    if missing:
        raise InvalidInputError(f"components missing: {', '.join(missing)}")
    total = sum(config.weights.values())
    out = pd.DataFrame(index=components.index)
    points = pd.Series(0.0, index=components.index)
    for name, weight in config.weights.items():
        raw = components[name].astype(float)
        spread = raw.max() - raw.min()
        scaled = (raw - raw.min()) / spread if spread > 0 else raw * 0.0
        out[name] = raw.round(4)
        out[f"{name}_scaled"] = scaled.round(4)
        out[f"{name}_points"] = (100 * weight / total * scaled).round(3)
        points += 100 * weight / total * scaled
    out["score"] = points.round(3)
    order = sorted(out.index, key=lambda code: (-out.at[code, "score"], str(code)))
    out = out.loc[order]
    out.insert(0, "rank", np.arange(1, len(out) + 1))
    return out
