"""Who may do what, and over which households: roles, permissions and scopes.

A scope is an admin subtree (code prefixes; '' is the whole country), plus, for some roles, a
set of problem categories, one municipal community or one household. Repository queries turn a
scope into one SQL filter (``layers.access.scope``), so every list, object, statistic and layer
built on them inherits it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from geo.errors import InvalidInputError
from geo.vocab import CODE_LENGTH

ROLES = (
    "citizen",
    "community_leader",
    "officer",
    "governor",
    "agency_officer",
    "reviewer",
    "analyst",
    "admin",
)
#: Functions a route may need. ``public`` needs no login. ``analysis:area`` is for analyses
#: built on every problem of an area (hotspots, targeting, overlays): roles whose scope is
#: narrower than an area (some categories, a community) do not get it.
PUBLIC = "public"
PERMISSIONS = (
    PUBLIC,
    "account",
    "households:read",
    "problems:read",
    "households:export",
    "analysis:read",
    "analysis:area",
    "analysis:run",
    "imports:read",
    "imports:write",
    "users:admin",
    "cases:read",
    "cases:act",
    "cases:refer",
    "cases:admin",
    "citizens:enrol",
    "reports:read",
    "reports:write",
    "reports:verify",
    "communities:write",
)
_CASEWORK = {
    "households:read",
    "problems:read",
    "households:export",
    "analysis:read",
    "cases:read",
    "cases:act",
}
_GRANTED = {
    "citizen": {
        "households:read",
        "problems:read",
        "households:export",
        "cases:read",
        "cases:act",
        "reports:read",
        "reports:write",
    },
    # The district team: enrols households and verifies what citizens report.
    "community_leader": _CASEWORK
    | {"citizens:enrol", "reports:read", "reports:verify", "communities:write"},
    "officer": _CASEWORK
    | {"analysis:area", "analysis:run", "imports:read", "imports:write", "cases:refer"}
    | {"citizens:enrol", "reports:read", "reports:verify", "communities:write"},
    "governor": _CASEWORK | {"analysis:area", "analysis:run", "imports:read", "cases:refer"},
    "agency_officer": _CASEWORK,
    "reviewer": {"households:read", "problems:read", "analysis:read", "cases:read", "cases:act"},
    "analyst": {
        "households:read",
        "problems:read",
        "analysis:read",
        "analysis:area",
        "analysis:run",
        "cases:read",
    },
    "admin": set(PERMISSIONS),
}
GRANTS = {role: frozenset(granted | {"account"}) for role, granted in _GRANTED.items()}
#: The permission each map kind needs (the public kinds answer a visitor too, from suppressed
#: figures).
MAP_PERMISSIONS = {
    "choropleth": "analysis:read",
    "hexbin": "analysis:read",
    "heatmap": "analysis:read",
    "hotspots": "analysis:area",
    "water": "analysis:area",
    "targeting": "analysis:area",
    "households": "households:read",
    "cases": "cases:read",
}
#: The level of the area each role is given (None: no area, the whole country).
AREA_LEVELS: dict[str, tuple[str, ...] | None] = {
    "citizen": ("subdistrict",),
    "community_leader": ("subdistrict", "district"),
    "officer": ("subdistrict", "district"),
    "governor": ("province",),
    "agency_officer": ("subdistrict", "district", "province"),
    "reviewer": None,
    "analyst": None,
    "admin": None,
}


@dataclass(frozen=True)
class Scope:
    """What one user may see.

    ``area`` is a code prefix ('' for the whole country). ``categories`` limits problems (None:
    all). ``escalated`` limits problems to those outside the ministry's mandate. ``household``
    and ``community`` pin a citizen or a community leader. ``pseudonymised`` hides identities
    and exact addresses. ``office``: the office an agency officer answers cases for.
    """

    role: str
    area: str = ""
    categories: frozenset[str] | None = None
    escalated: bool = False
    household: str | None = None
    community: str | None = None
    pseudonymised: bool = False
    office: str | None = None

    @property
    def narrow(self) -> bool:
        """Whether the scope is narrower than its area (some categories, a community, a home)."""
        return (
            self.categories is not None
            or self.escalated
            or self.household is not None
            or self.community is not None
        )

    def allows(self, permission: str) -> bool:
        """Whether this scope's role grants ``permission`` (everyone has ``public``)."""
        return permission == PUBLIC or permission in GRANTS[self.role]

    def covers_area(self, code: str) -> bool:
        """Whether the area ``code`` ('' = the country) lies inside this scope's area."""
        return code.startswith(self.area)

    def overlap(self, code: str) -> str | None:
        """The part of the area ``code`` inside this scope's area.

        The smaller of the two when one holds the other, None when they are apart.
        """
        if self.covers_area(code):
            return code
        if self.area.startswith(code):
            return self.area
        return None

    def outside_area(self, codes: pd.Series) -> NDArray[np.bool_]:
        """Which area codes lie outside this scope's area (None: no area, not outside)."""
        given = codes.notna().to_numpy()
        inside = codes.fillna("").astype(str).str.startswith(self.area).to_numpy(dtype=bool)
        outside: NDArray[np.bool_] = given & ~inside
        return outside

    def outside_rest(
        self, categories: pd.Series, households: pd.Series, communities: pd.Series
    ) -> NDArray[np.bool_]:
        """Which records this scope may not write for its narrowing beyond the area.

        A problem outside its categories, another household than its own, another community than its
        own; and every record, for a scope of escalated problems (reviewers read them).
        """
        out = np.zeros(len(categories), dtype=bool)
        if self.categories is not None:
            out |= categories.notna().to_numpy() & ~categories.isin(self.categories).to_numpy()
        if self.escalated:
            out[:] = True
        if self.household is not None:
            out |= (households != self.household).to_numpy(dtype=bool)
        if self.community is not None:
            out |= (communities != self.community).to_numpy(dtype=bool)
        return out


def scope_of(
    role: str,
    area: str | None,
    *,
    categories: list[str] | None = None,
    household: str | None = None,
    community: str | None = None,
    office: str | None = None,
) -> Scope:
    """The scope a user's role and assignment give, checked for consistency."""
    if role not in ROLES:
        raise InvalidInputError(f"role: {role!r} is not one of {', '.join(ROLES)}")
    levels = AREA_LEVELS[role]
    if levels is None:
        area = ""
    elif not area or not area.isdigit() or len(area) not in {CODE_LENGTH[x] for x in levels}:
        raise InvalidInputError(
            f"role {role} needs an area: a {' or '.join(levels)} code", field="area"
        )
    if role == "agency_officer" and not categories:
        raise InvalidInputError(
            "role agency_officer needs categories (its agency's mandate)", field="categories"
        )
    if role == "citizen" and not household:
        raise InvalidInputError(
            "role citizen needs a household (their own household id)", field="household"
        )
    if role == "community_leader" and not community:
        raise InvalidInputError(
            "role community_leader needs a community (its name)", field="community"
        )
    return Scope(
        role=role,
        area=area or "",
        categories=frozenset(categories) if role == "agency_officer" and categories else None,
        escalated=role == "reviewer",
        household=household if role == "citizen" else None,
        community=community if role == "community_leader" else None,
        pseudonymised=role == "analyst",
        office=office if role == "agency_officer" else None,
    )
