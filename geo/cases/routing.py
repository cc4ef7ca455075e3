"""Routing: which office a problem of a category in a subdistrict is handed to.

A rule names a category, an area (a code prefix: '' the nation, a province, a district or a
subdistrict) and an office. For one problem the rules of its category whose area holds its
subdistrict apply, and the most specific wins (subdistrict > district > province > nation).
Two rules of the same category, equally specific, that name different offices are a conflict;
no rule at all is a gap. Both are errors of the routing data, listed by :func:`coverage`.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from geo.errors import InvalidInputError, NotFoundError
from geo.vocab import CODE_LENGTH

#: The prefixes of a subdistrict code, most specific first.
_LENGTHS = sorted({CODE_LENGTH[level] for level in CODE_LENGTH}, reverse=True)


@dataclass(frozen=True)
class Rule:
    """Problems of ``category`` whose subdistrict lies in ``area`` go to ``office``."""

    category: str
    area: str
    office: str


@dataclass(frozen=True)
class Coverage:
    """What the rules leave without an office (gaps) or with several (conflicts)."""

    gaps: list[tuple[str, str]] = field(default_factory=list)
    conflicts: list[tuple[str, str, tuple[str, ...]]] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        """Whether every category × subdistrict resolves to exactly one office."""
        return not self.gaps and not self.conflicts


class Routes:
    """Rules indexed for routing: category → area → the offices its rules name."""

    def __init__(self, rules: Iterable[Rule]) -> None:
        self._index: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
        for rule in rules:
            if rule.area and (not rule.area.isdigit() or len(rule.area) not in _LENGTHS):
                raise InvalidInputError(
                    f"area: {rule.area!r} (category {rule.category}, office {rule.office}) is "
                    "not a province, district or subdistrict code",
                    field="area",
                )
            self._index[rule.category][rule.area].add(rule.office)

    def offices(self, category: str, subdistrict: str) -> tuple[str, ...]:
        """The offices of the most specific rules for the problem (several: a conflict)."""
        areas = self._index.get(category, {})
        for length in _LENGTHS:
            found = areas.get(subdistrict[:length])
            if found:
                return tuple(sorted(found))
        return ()

    def route(self, category: str, subdistrict: str) -> str:
        """The one office a problem of ``category`` in ``subdistrict`` is handed to.

        Raises
        ------
        NotFoundError
            If no rule covers it.
        InvalidInputError
            If the most specific rules name several offices.
        """
        found = self.offices(category, subdistrict)
        if not found:
            raise NotFoundError(f"no office is routed for {category} in {subdistrict}")
        if len(found) > 1:
            raise InvalidInputError(
                f"{category} in {subdistrict} is routed to several offices: {', '.join(found)}"
            )
        return found[0]

    def coverage(self, categories: Iterable[str], subdistricts: Iterable[str]) -> Coverage:
        """Every category × subdistrict without exactly one office, in order."""
        result = Coverage()
        places = sorted(subdistricts)
        for category in sorted(categories):
            for subdistrict in places:
                found = self.offices(category, subdistrict)
                if not found:
                    result.gaps.append((category, subdistrict))
                elif len(found) > 1:
                    result.conflicts.append((category, subdistrict, found))
        return result
