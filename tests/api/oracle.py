"""What each role may see, stated in SQL independently of the product, and the seeded world the
access tests share: codes for each scope relation and one user of every role."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, text

from tests.factories import engine_for, token_for

# Ubon's synthetic survey: the officer's own subdistrict, a sibling in the same district, the
# parent district, and another province.
RELATIONS = ("own", "sibling", "parent", "other")
ROUND = 2567
WITH_PROBLEMS = (
    "JOIN problem p ON p.household_id = h.household_id AND p.round = h.round "
    "JOIN problem_category c ON c.code = p.category"
)


def role_of(name: str) -> str:
    return "officer" if name == "district_officer" else name


def make_world(url: str) -> dict[str, Any]:
    """Codes for each relation, a municipal community, and a user of every role."""
    engine = engine_for(url)
    with engine.connect() as conn:
        own, sibling = conn.execute(
            text(
                "SELECT subdistrict_code FROM household WHERE round = 2567 "
                "AND district_code = (SELECT district_code FROM household WHERE round = 2567 "
                "GROUP BY 1 ORDER BY count(DISTINCT subdistrict_code) DESC, 1 LIMIT 1) "
                "GROUP BY 1 ORDER BY count(*) DESC, 1 LIMIT 2"
            )
        ).scalars()
    with engine.begin() as conn:
        # A municipal community across the own subdistrict and its sibling.
        community = "ชุมชนหนองบัว"
        moved = conn.execute(
            text(
                "UPDATE household SET community = :c WHERE subdistrict_code IN (:a, :b) "
                "AND right(household_id, 1) IN ('1', '2', '3')"
            ),
            {"c": community, "a": own, "b": sibling},
        )
        assert moved.rowcount > 0
    with engine.connect() as conn:
        citizen_home = conn.scalar(
            text(
                "SELECT household_id FROM household WHERE subdistrict_code = :s "
                "ORDER BY household_id LIMIT 1"
            ),
            {"s": own},
        )
    engine.dispose()
    assignments: dict[str, dict[str, Any]] = {
        "citizen": {"area": own, "household": citizen_home},
        "officer": {"area": own},
        "district_officer": {"area": own[:4]},
        "governor": {"area": "34"},
        "agency_officer": {
            "area": own[:4],
            "categories": ["no_land_title", "illiteracy"],
            "office": "dol-34",
        },
        "community_leader": {"area": own[:4], "community": community},
        "reviewer": {},
        "analyst": {},
        "admin": {},
    }
    tokens = {name: token_for(url, role_of(name), **given) for name, given in assignments.items()}
    return {
        "url": url,
        "areas": {"own": own, "sibling": sibling, "parent": own[:4], "other": "10"},
        "assignments": assignments,
        "tokens": tokens,
    }


def conditions(
    role: str, given: dict[str, Any], area: str
) -> tuple[list[str], list[str], dict[str, Any]]:
    """What a role may see: conditions on the household ``h``, conditions on its problem ``p``
    (category ``c``), and their parameters."""
    on_household = ["h.subdistrict_code LIKE :area"]
    on_problem: list[str] = []
    params: dict[str, Any] = {"area": area + "%"}
    if given.get("area"):
        on_household.append("h.subdistrict_code LIKE :own")
        params["own"] = given["area"] + "%"
    if role == "citizen":
        on_household.append("h.household_id = :home")
        params["home"] = given["household"]
    if role == "community_leader":
        on_household.append("h.community = :community")
        params["community"] = given["community"]
    if role == "agency_officer":
        on_problem.append("p.category = ANY(:categories)")
        params["categories"] = given["categories"]
    if role == "reviewer":
        on_problem.append("NOT c.within_mandate")
    return on_household, on_problem, params


def oracle(
    engine: Engine, role: str, given: dict[str, Any], area: str, every_round: bool = False
) -> set[str]:
    """The households a role may see in an area (in round 2567, or in any)."""
    on_household, on_problem, params = conditions(role, given, area)
    if not every_round:
        on_household.append(f"h.round = {ROUND}")
    # Roles limited to some problems see the households that have one of them.
    joined = WITH_PROBLEMS if on_problem else ""
    where = " AND ".join(on_household + on_problem)
    sql = f"SELECT DISTINCT h.household_id FROM household h {joined} WHERE {where}"  # noqa: S608
    with engine.connect() as conn:
        return set(conn.scalars(text(sql), params))


def problem_oracle(engine: Engine, role: str, given: dict[str, Any], area: str) -> set[str]:
    """The households whose problems of round 2567 a role may see in an area."""
    on_household, on_problem, params = conditions(role, given, area)
    on_household.append(f"h.round = {ROUND}")
    where = " AND ".join(on_household + on_problem)
    sql = f"SELECT DISTINCT h.household_id FROM household h {WITH_PROBLEMS} WHERE {where}"  # noqa: S608
    with engine.connect() as conn:
        return set(conn.scalars(text(sql), params))


def figures_oracle(
    engine: Engine, role: str, given: dict[str, Any], area: str
) -> tuple[int, int, int]:
    """Households (the denominator: area and community), households with a problem the role may
    see, and those problems, in an area in round 2567."""
    on_household, on_problem, params = conditions(role, given, area)
    on_household.append(f"h.round = {ROUND}")
    where = " AND ".join(on_household)
    every = " AND ".join(on_household + on_problem)
    with engine.connect() as conn:
        households = conn.scalar(
            text(f"SELECT count(*) FROM household h WHERE {where}"),  # noqa: S608
            params,
        )
        affected, problems = conn.execute(
            text(
                f"SELECT count(DISTINCT h.household_id), count(*) FROM household h "  # noqa: S608
                f"{WITH_PROBLEMS} WHERE {every}"
            ),
            params,
        ).one()
    return int(households or 0), int(affected), int(problems)


def case_oracle(engine: Engine, role: str, given: dict[str, Any], case_id: int) -> bool:
    """Whether a role may see a case: an agency officer its office's, a reviewer escalated ones
    (outside the mandate, or up to the national level), the others as for households."""
    conditions = ["k.id = :id"]
    params: dict[str, Any] = {"id": case_id}
    if role == "agency_officer":
        conditions.append("k.office = :office")
        params["office"] = given["office"]
    else:
        if given.get("area"):
            conditions.append("k.subdistrict_code LIKE :own")
            params["own"] = given["area"] + "%"
        if role == "citizen":
            conditions.append("k.household_id = :home")
            params["home"] = given["household"]
        if role == "community_leader":
            conditions.append(
                "EXISTS (SELECT 1 FROM household h WHERE h.household_id = k.household_id "
                "AND h.round = k.round AND h.community = :community)"
            )
            params["community"] = given["community"]
        if role == "reviewer":
            conditions.append(
                "(k.level = 3 OR NOT (SELECT within_mandate FROM problem_category "
                "WHERE code = k.category))"
            )
    sql = "SELECT count(*) FROM problem_case k WHERE " + " AND ".join(conditions)  # noqa: S608
    with engine.connect() as conn:
        return bool(conn.scalar(text(sql), params))
