"""Routing: the most specific rule wins; gaps and conflicts are found, against a brute force."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from geo.cases.routing import Routes, Rule
from geo.errors import InvalidInputError, NotFoundError

SUBDISTRICTS = ["340101", "340102", "341901", "341902", "100101"]
AREAS = ["", "34", "10", "3401", "3419", "1001", *SUBDISTRICTS]


def brute_force(rules: list[Rule], category: str, subdistrict: str) -> set[str]:
    """The offices of the longest matching rules, by looking at every rule."""
    matching = [r for r in rules if r.category == category and subdistrict.startswith(r.area)]
    if not matching:
        return set()
    longest = max(len(r.area) for r in matching)
    return {r.office for r in matching if len(r.area) == longest}


rules_strategy = st.lists(
    st.builds(
        Rule,
        category=st.sampled_from(["land", "school"]),
        area=st.sampled_from(AREAS),
        office=st.sampled_from(["A", "B", "C"]),
    ),
    max_size=12,
)


@given(rules_strategy)
def test_routing_and_coverage_agree_with_a_brute_force(rules: list[Rule]) -> None:
    routes = Routes(rules)
    coverage = routes.coverage(["land", "school"], SUBDISTRICTS)
    for category in ("land", "school"):
        for subdistrict in SUBDISTRICTS:
            expected = brute_force(rules, category, subdistrict)
            assert set(routes.offices(category, subdistrict)) == expected
            if len(expected) == 1:
                assert routes.route(category, subdistrict) == expected.pop()
            elif not expected:
                assert (category, subdistrict) in coverage.gaps
                with pytest.raises(NotFoundError):
                    routes.route(category, subdistrict)
            else:
                assert (category, subdistrict, tuple(sorted(expected))) in coverage.conflicts
                with pytest.raises(InvalidInputError, match="several offices"):
                    routes.route(category, subdistrict)
    assert coverage.complete == (not coverage.gaps and not coverage.conflicts)


def test_the_most_specific_rule_wins() -> None:
    routes = Routes(
        [
            Rule("land", "", "lands-national"),
            Rule("land", "34", "lands-34"),
            Rule("land", "3419", "lands-3419"),
        ]
    )
    assert routes.route("land", "341901") == "lands-3419"
    assert routes.route("land", "340101") == "lands-34"
    assert routes.route("land", "100101") == "lands-national"
    assert routes.coverage(["land"], SUBDISTRICTS).complete
    assert routes.coverage(["land", "school"], SUBDISTRICTS).gaps == [
        ("school", s) for s in sorted(SUBDISTRICTS)
    ]


def test_a_rule_with_a_bad_area_is_refused() -> None:
    with pytest.raises(InvalidInputError, match=r"'3x' .* not a province"):
        Routes([Rule("land", "3x", "A")])
