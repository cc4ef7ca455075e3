"""How maps colour their data: classification schemes, colour classes and fixed palettes.

No Folium here: only numbers and colours, which the map kinds (``geo.maps.kinds``) draw.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
from branca.utilities import color_brewer

from geo.errors import InvalidInputError
from geo.vocab import Scheme

SCHEMES: dict[Scheme, str] = {
    "quantiles": "Quantiles",
    "natural_breaks": "FisherJenks",  # Jenks' optimal breaks: the same every time
    "equal_interval": "EqualInterval",
}
#: The colours of the Gi* classes, from hot to cold.
GI_COLOURS = {
    "hot_99": "#b2182b",
    "hot_95": "#ef8a62",
    "hot_90": "#fddbc7",
    "not_significant": "#f0f0f0",
    "cold_90": "#d1e5f0",
    "cold_95": "#67a9cf",
    "cold_99": "#2166ac",
}
#: The colour of each kind of water layer.
WATER_STYLE = {
    "flood_zones": "#4393c3",
    "drought_zones": "#d6604d",
    "waterways": "#2166ac",
    "water_sources": "#053061",
}
NO_DATA = "#d9d9d9"
#: Natural breaks are fitted to at most this many values (see :func:`classify`).
SAMPLE = 500
#: The colour of a case in each state (``geo.cases.workflow.STATES``), and the ring of one late.
CASE_COLOURS = {
    "new": "#969696",
    "referred": "#fd8d3c",
    "acknowledged": "#6baed6",
    "in_progress": "#2171b5",
    "resolved": "#74c476",
    "verified": "#238b45",
    "rejected": "#9e9ac8",
    "reopened": "#e6550d",
    "closed_unsolved": "#525252",
}
OVERDUE = "#cb181d"
OFFICE = "#54278f"


@dataclass(frozen=True)
class Classes:
    """Class breaks of a numeric indicator, and each value's class (-1: no data)."""

    scheme: str
    upper: list[float]
    minimum: float
    classes: np.ndarray
    colours: list[str]

    def labels(self) -> list[str]:
        """The legend's label of each class, "low – high"; none without classes."""
        if not self.upper:
            return []
        lows = [self.minimum, *self.upper[:-1]]
        return [f"{_num(lo)} – {_num(hi)}" for lo, hi in zip(lows, self.upper, strict=True)]

    def colour_of(self, value_class: int) -> str:
        """The fill of a class; :data:`NO_DATA` for class -1."""
        return NO_DATA if value_class < 0 else self.colours[value_class]


def classify(values: pd.Series, scheme: str = "quantiles", k: int = 5) -> Classes:
    """Classes of ``values`` by ``mapclassify`` (quantiles, natural breaks or equal interval).

    Parameters
    ----------
    values : Series
        Numbers, or text that reads as numbers; missing values (no data, or hidden by disclosure
        control) get class -1.
    scheme : str
        A key of :data:`SCHEMES`.
    k : int
        Classes wanted, 3 to 9; fewer when the values have fewer distinct numbers.

    Returns
    -------
    Classes
        The breaks, each value's class and the classes' colours (ColorBrewer YlOrRd).

    Raises
    ------
    InvalidInputError
        If the scheme is unknown or ``k`` is not between 3 and 9.
    """
    if scheme not in SCHEMES:
        raise InvalidInputError(f"scheme: {scheme!r} is not one of {', '.join(SCHEMES)}")
    if not 3 <= k <= 9:
        raise InvalidInputError(f"classes: {k} is not between 3 and 9")
    numbers = pd.to_numeric(values, errors="coerce").astype(float)
    known = numbers.dropna().to_numpy()
    classes = np.full(len(numbers), -1, dtype=int)
    if not len(known):
        return Classes(scheme, [], 0.0, classes, [])
    distinct = len(np.unique(known))
    k = min(k, distinct) if distinct > 1 else 1
    if k == 1:
        upper, minimum = [float(known.max())], float(known.min())
        classes[numbers.notna().to_numpy()] = 0
    else:
        import mapclassify  # here, not above: it imports matplotlib, a second's start-up

        # Jenks' breaks take time as the square of the values: past SAMPLE values they are
        # fitted to SAMPLE evenly spaced quantiles of them (the same every time, unlike
        # mapclassify's random FisherJenksSampled), then every value is put in its class.
        fit = (
            known
            if scheme != "natural_breaks" or len(known) <= SAMPLE
            else np.quantile(known, np.linspace(0, 1, SAMPLE))
        )
        with warnings.catch_warnings():
            # Fewer classes than asked when values repeat: the breaks say so, not a warning.
            warnings.simplefilter("ignore", UserWarning)
            fitted = getattr(mapclassify, SCHEMES[scheme])(fit, k=k)
        upper = [float(b) for b in fitted.bins]
        upper[-1] = float(known.max())
        minimum = float(known.min())
        found = np.searchsorted(np.asarray(upper), known, side="left")
        classes[numbers.notna().to_numpy()] = np.minimum(found, len(upper) - 1)
    colours = color_brewer("YlOrRd", n=max(len(upper), 3))[-len(upper) :]
    return Classes(scheme, upper, minimum, classes, list(colours))


def _num(value: float) -> str:
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:,.1f}"
