"""Case hand-off in the database: referral, actions, history, statuses, re-routing, versions."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError

from geo.access import scope_of
from geo.cases.deadlines import add_working_days
from geo.errors import ForbiddenError, InvalidInputError, NotFoundError, StaleVersionError
from layers.access.scope import cases as cases_in
from layers.cases.actions import act
from layers.cases.events import Actor
from layers.cases.queries import CaseFilter, get_case, list_cases
from layers.cases.referral import refer

NOW = dt.datetime(2027, 1, 11, 9, 0, tzinfo=dt.UTC)  # a Monday
ADMIN = Actor("admin", "admin", scope_of("admin", None))
DISTRICT = "3401"


def officer(area: str = DISTRICT) -> Actor:
    return Actor(f"officer-{area}", "officer", scope_of("officer", area))


def agency(
    office: str, area: str = "34", categories: tuple[str, ...] = ("no_land_title",)
) -> Actor:
    return Actor(
        f"agency-{office}",
        "agency_officer",
        scope_of("agency_officer", area, categories=list(categories), office=office),
    )


def open_problems(engine: Engine, area: str, category: str | None = None) -> int:
    """Problems of the area's latest round not solved, not closed, and without a case."""
    with engine.connect() as conn:
        return int(
            conn.scalar(
                text(
                    "SELECT count(*) FROM problem p WHERE status IN ('open', 'referred', "
                    "'in_progress') AND subdistrict_code LIKE :a "
                    "AND round = (SELECT max(round) FROM problem) "
                    "AND (CAST(:c AS text) IS NULL OR category = :c) AND NOT EXISTS ("
                    "SELECT 1 FROM problem_case k WHERE (k.household_id, k.round, k.category) "
                    "= (p.household_id, p.round, p.category))"
                ),
                {"a": area + "%", "c": category},
            )
            or 0
        )


def oracle_office(engine: Engine, category: str, subdistrict: str) -> str:
    """The office the agencies file sends a problem to, worked out here from the file itself."""
    import yaml

    from layers.store.settings import Settings

    document = yaml.safe_load(Settings().agencies_file.read_text(encoding="utf-8"))
    with engine.connect() as conn:
        inside = conn.scalar(
            text("SELECT within_mandate FROM problem_category WHERE code = :c"), {"c": category}
        )
    for route in document["routes"]:
        chosen = route["categories"]
        if (chosen == "within_mandate" and inside) or (
            isinstance(chosen, list) and category in chosen
        ):
            agency_code, level = route["agency"], route["level"]
            break
    else:
        raise AssertionError(f"the file routes no {category}")
    if level == "district":
        return f"{agency_code}-{subdistrict[:4]}"
    if level == "province":
        return f"{agency_code}-{subdistrict[:2]}"
    with engine.connect() as conn:
        districts = conn.scalars(
            text(
                "SELECT code FROM admin_unit WHERE level = 'district' AND parent_code = :p "
                "AND in_registry IS NOT FALSE ORDER BY code"
            ),
            {"p": subdistrict[:2]},
        ).all()
    size = next(a for a in document["agencies"] if a["code"] == agency_code)["offices"][
        "districts"
    ]["size"]
    return f"{agency_code}-{subdistrict[:2]}-{districts.index(subdistrict[:4]) // size + 1}"


def test_referral_hands_each_open_problem_to_its_office_once(cases_engine: Engine) -> None:
    before = open_problems(cases_engine, DISTRICT)
    assert before > 20
    dry = refer(cases_engine, officer(), areas=[DISTRICT], now=NOW, dry_run=True)
    assert dry.cases == before and dry.unrouted == 0
    with cases_engine.connect() as conn:
        assert conn.scalar(text("SELECT count(*) FROM problem_case")) == 0
    done = refer(cases_engine, officer(), areas=[DISTRICT], now=NOW)
    assert done.offices == dry.offices
    again = refer(cases_engine, officer(), areas=[DISTRICT], now=NOW)
    assert again.cases == 0
    with cases_engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT k.category, k.subdistrict_code, k.office, k.state, p.status, "
                "k.acknowledge_by, k.resolve_by, "
                "(SELECT count(*) FROM case_event e WHERE e.case_id = k.id) AS events "
                "FROM problem_case k JOIN problem p USING (household_id, round, category)"
            )
        ).all()
    assert len(rows) == before
    assert open_problems(cases_engine, DISTRICT) == 0
    for category, subdistrict, office, state, status, acknowledge_by, resolve_by, n in rows:
        assert office == oracle_office(cases_engine, category, subdistrict)
        assert (state, status, n) == ("referred", "referred", 1)
        assert acknowledge_by >= add_working_days(NOW.date(), 1)
        assert resolve_by > acknowledge_by


def test_a_case_goes_through_its_life_and_the_problem_follows(cases_engine: Engine) -> None:
    refer(cases_engine, officer(), areas=[DISTRICT], categories=["no_land_title"], now=NOW)
    with cases_engine.begin() as conn:
        items, total = list_cases(
            conn,
            ADMIN.scope,
            CaseFilter(category="no_land_title"),
            today=NOW.date(),
            limit=5,
            offset=0,
        )
        assert total >= 1
        case = items[0]
        assert case["office"] == "dol-34" and case["escalated"]
        lands = agency("dol-34")
        version = act(
            conn,
            lands,
            case["id"],
            "acknowledge",
            version=case["version"],
            now=NOW,
            expected_on=NOW.date() + dt.timedelta(days=90),
        )
        version = act(conn, lands, case["id"], "progress", version=version, now=NOW, note="survey")
        version = act(
            conn,
            lands,
            case["id"],
            "resolve",
            version=version,
            now=NOW,
            resolution="solved_by_agency",
            note="title deed issued",
        )
        status = conn.scalar(
            text(
                "SELECT status FROM problem WHERE household_id = :h AND category = :c "
                "AND round = :r"
            ),
            {"h": case["household_id"], "c": "no_land_title", "r": case["round"]},
        )
        assert status == "solved_by_agency"
        with pytest.raises(ForbiddenError):
            act(conn, lands, case["id"], "verify", version=version, now=NOW)
        version = act(conn, officer(), case["id"], "verify", version=version, now=NOW)
        shown = get_case(conn, ADMIN.scope, case["id"], today=NOW.date())
    assert shown["state"] == "verified" and shown["version"] == version == case["version"] + 4
    assert [e["action"] for e in shown["history"]] == [
        "route",
        "acknowledge",
        "progress",
        "resolve",
        "verify",
    ]
    assert shown["history"][1]["office"] == "dol-34"


def test_a_rejected_case_goes_to_the_suggested_office_or_back_to_the_district_team(
    cases_engine: Engine,
) -> None:
    refer(cases_engine, officer(), areas=[DISTRICT], categories=["no_land_title"], now=NOW)
    with cases_engine.begin() as conn:
        items, _ = list_cases(
            conn,
            ADMIN.scope,
            CaseFilter(category="no_land_title"),
            today=NOW.date(),
            limit=2,
            offset=0,
        )
        first, second = items[:2]
        lands = agency("dol-34")
        with pytest.raises(InvalidInputError, match="reason"):
            act(conn, lands, first["id"], "reject", version=1, now=NOW, note="x", reason="bored")
        act(
            conn,
            lands,
            first["id"],
            "reject",
            version=1,
            now=NOW,
            reason="not_our_mandate",
            note="reform land",
            office="alro-34",
        )
        act(conn, lands, second["id"], "reject", version=1, now=NOW, reason="other", note="?")
        one = get_case(conn, ADMIN.scope, first["id"], today=NOW.date())
        two = get_case(conn, ADMIN.scope, second["id"], today=NOW.date())
        # The office that refused no longer sees them.
        with pytest.raises(NotFoundError):
            get_case(conn, lands.scope, first["id"], today=NOW.date())
    assert (one["office"], one["state"]) == ("alro-34", "referred")
    assert (two["office"], two["state"]) == (f"dopa-{two['subdistrict_code'][:4]}", "referred")
    assert [e["action"] for e in one["history"]] == ["route", "reject", "route"]
    assert one["history"][1]["details"] == {
        "reason": "not_our_mandate",
        "suggested_office": "alro-34",
        "office": "dol-34",
    }


def test_a_new_category_reroutes_the_open_case_and_says_why(
    cases_engine: Engine, tmp_path: Path
) -> None:
    with cases_engine.connect() as conn:
        household = conn.scalar(
            text(
                "SELECT household_id FROM problem WHERE status = 'open' AND category = "
                "'no_income' AND subdistrict_code LIKE '3401%' "
                "AND round = (SELECT max(round) FROM problem) AND household_id NOT IN ("
                "SELECT household_id FROM problem WHERE category = 'no_land_title') LIMIT 1"
            )
        )
    refer(cases_engine, officer(), areas=[DISTRICT], household=household, now=NOW)
    with cases_engine.begin() as conn:
        case_id = conn.scalar(
            text("SELECT id FROM problem_case WHERE household_id = :h AND category = 'no_income'"),
            {"h": household},
        )
        act(conn, officer(), case_id, "recategorise", version=1, now=NOW, category="no_land_title")
        shown = get_case(conn, ADMIN.scope, case_id, today=NOW.date())
        problem = conn.execute(
            text(
                "SELECT p.status FROM problem p JOIN problem_case k "
                "USING (household_id, round, category) WHERE k.id = :i"
            ),
            {"i": case_id},
        ).scalar_one()
    assert (shown["category"], shown["office"], shown["escalated"]) == (
        "no_land_title",
        "dol-34",
        True,
    )
    assert problem == "referred"
    assert shown["history"][-1]["note"] == "category changed from no_income to no_land_title"
    # The survey again, with the wrong category: its row is the corrected problem's.
    import pandas as pd

    from layers.store.settings import Settings
    from layers.survey.importer import Importer

    with cases_engine.connect() as conn:
        rows = pd.read_sql(
            text(
                "SELECT h.household_id, h.round, h.subdistrict_code, h.moo, ST_Y(h.geom) AS lat, "
                "ST_X(h.geom) AS lon, h.surveyed_on, b.category AS problem_code, b.status "
                "FROM household h JOIN problem p USING (household_id, round) "
                "JOIN problem_before b ON b.id = p.id WHERE h.household_id = :h"
            ),
            conn,
            params={"h": household},
        )
    assert "no_income" in set(rows.problem_code)
    path = tmp_path / "again.csv"
    rows.to_csv(path, index=False)
    url = cases_engine.url.render_as_string(hide_password=False)
    Importer(cases_engine, Settings(database_url=url)).run(path)
    with cases_engine.connect() as conn:
        categories = conn.scalars(
            text(
                "SELECT category FROM problem WHERE household_id = :h AND round = :r "
                "ORDER BY category"
            ),
            {"h": household, "r": shown["round"]},
        ).all()
        again = get_case(conn, ADMIN.scope, case_id, today=NOW.date())
    assert "no_income" not in categories and "no_land_title" in categories
    assert (again["category"], again["state"]) == ("no_land_title", "referred")


def test_a_stale_version_is_refused_and_nothing_changes(cases_engine: Engine) -> None:
    refer(cases_engine, officer(), areas=[DISTRICT], categories=["no_land_title"], now=NOW)
    with cases_engine.begin() as conn:
        case_id = conn.scalar(text("SELECT min(id) FROM problem_case"))
        act(
            conn,
            agency("dol-34"),
            case_id,
            "acknowledge",
            version=1,
            now=NOW,
            expected_on=NOW.date(),
        )
        with pytest.raises(StaleVersionError) as refused:
            act(conn, agency("dol-34"), case_id, "progress", version=1, now=NOW)
        assert refused.value.current["version"] == 2


def test_history_is_append_only(cases_engine: Engine) -> None:
    refer(cases_engine, officer(), areas=[DISTRICT], categories=["illiteracy"], now=NOW)
    for statement in (
        "UPDATE case_event SET note = 'changed'",
        "DELETE FROM case_event",
        "TRUNCATE case_event",
    ):
        with pytest.raises(DBAPIError, match="append-only"), cases_engine.begin() as conn:
            conn.exec_driver_sql(statement)


def test_the_scope_of_cases_by_role(cases_engine: Engine) -> None:
    refer(cases_engine, ADMIN, areas=["34"], now=NOW)
    with cases_engine.connect() as conn:

        def seen(scope: object) -> set[int]:
            from sqlalchemy import select

            from layers.store.models import Case

            return set(conn.scalars(select(Case.id).where(cases_in(scope))))  # type: ignore[arg-type]

        every = conn.execute(
            text("SELECT id, subdistrict_code, office, escalated, household_id FROM problem_case")
        ).all()
        assert seen(officer().scope) == {r[0] for r in every if r[1].startswith(DISTRICT)}
        assert seen(agency("dol-34").scope) == {r[0] for r in every if r[2] == "dol-34"}
        assert seen(scope_of("reviewer", None)) == {r[0] for r in every if r[3]}
        home = every[0][4]
        assert seen(scope_of("citizen", every[0][1], household=home)) == {
            r[0] for r in every if r[4] == home
        }
        assert seen(scope_of("agency_officer", "34", categories=["no_land_title"])) == set()


def test_a_reimport_keeps_what_a_case_decided_later_and_a_newer_row_wins(
    cases_engine: Engine, tmp_path: Path
) -> None:
    import pandas as pd

    from layers.store.settings import Settings
    from layers.survey.importer import Importer

    refer(cases_engine, officer(), areas=[DISTRICT], now=NOW)
    with cases_engine.begin() as conn:
        first, second = conn.execute(
            text("SELECT id, household_id, category FROM problem_case ORDER BY id LIMIT 2")
        ).all()
        act(conn, ADMIN, first[0], "acknowledge", version=1, now=NOW, expected_on=NOW.date())
        act(conn, ADMIN, first[0], "resolve", version=2, now=NOW, resolution="solved_by_agency")
    with cases_engine.connect() as conn:
        # The rows of the two households as the survey had them (problem_before: as imported).
        mine = pd.read_sql(
            text(
                "SELECT h.household_id, h.round, h.subdistrict_code, h.moo, ST_Y(h.geom) AS lat, "
                "ST_X(h.geom) AS lon, h.surveyed_on, b.category AS problem_code, b.status, "
                "p.reported_on, b.updated_on, b.resolved_on "
                "FROM household h JOIN problem p USING (household_id, round) "
                "JOIN problem_before b ON b.id = p.id WHERE h.household_id IN (:a, :b)"
            ),
            conn,
            params={"a": first[1], "b": second[1]},
        )
    assert set(mine.problem_code) >= {first[2], second[2]}
    # The same (older) survey again: the cases' statuses stand.
    older = tmp_path / "older.csv"
    mine.to_csv(older, index=False)
    settings = Settings(database_url=cases_engine.url.render_as_string(hide_password=False))
    Importer(cases_engine, settings).run(older)

    def status(household: str, category: str) -> str:
        with cases_engine.connect() as conn:
            return str(
                conn.scalar(
                    text(
                        "SELECT status FROM problem WHERE household_id = :h AND category = :c "
                        "AND round = (SELECT max(round) FROM problem)"
                    ),
                    {"h": household, "c": category},
                )
            )

    assert status(first[1], first[2]) == "solved_by_agency"
    assert status(second[1], second[2]) == "referred"
    # A revisit after the case's last event: the survey's word wins, and the history says so.
    newer = mine.copy()
    later = newer.problem_code == second[2]
    newer.loc[later, ["status", "updated_on"]] = ["solved_by_household", "2027-02-01"]
    newer.loc[~later, "status"] = "open"
    path = tmp_path / "newer.csv"
    newer[newer.household_id == second[1]].to_csv(path, index=False)
    Importer(cases_engine, settings).run(path)
    assert status(second[1], second[2]) == "solved_by_household"
    assert status(first[1], first[2]) == "solved_by_agency"
    with cases_engine.connect() as conn:
        shown = get_case(conn, ADMIN.scope, second[0], today=NOW.date())
    assert shown["history"][-1]["action"] == "survey"
    assert shown["history"][-1]["details"]["status"] == "solved_by_household"
    assert shown["state"] == "referred"


def test_a_simulated_year_keeps_every_rule_and_referral_never_changes_the_solved_share(
    cases_engine: Engine,
) -> None:
    from geo.cases.workflow import TRANSITIONS
    from layers.cases.simulate import simulate

    def solved_pct() -> float:
        with cases_engine.connect() as conn:
            return float(
                conn.scalar(
                    text(
                        "SELECT 100.0 * count(*) FILTER (WHERE status LIKE 'solved%') / count(*) "
                        "FROM problem"
                    )
                )
            )

    before = solved_pct()
    refer(cases_engine, ADMIN, areas=["34"], now=NOW)
    assert solved_pct() == before  # referral hands problems on; it solves none
    done = simulate(cases_engine, start=NOW, days=365, seed=3, area="34")
    assert done["acknowledge"] and done["resolve"] and done["reject"] and done["escalate"]
    with cases_engine.connect() as conn:
        history = conn.execute(
            text(
                "SELECT e.case_id, e.action, e.from_state, e.to_state FROM case_event e "
                "JOIN problem_case k ON k.id = e.case_id ORDER BY e.case_id, e.id"
            )
        ).all()
        mismatched = conn.scalar(
            text(
                "SELECT count(*) FROM problem_case k JOIN problem p "
                "USING (household_id, round, category) WHERE p.status <> CASE "
                "WHEN k.state IN ('resolved', 'verified') THEN k.resolution "
                "WHEN k.state IN ('referred', 'rejected') THEN 'referred' "
                "WHEN k.state IN ('acknowledged', 'in_progress') THEN 'in_progress' "
                "WHEN k.state = 'closed_unsolved' THEN 'closed_unsolved' ELSE 'open' END"
            )
        )
    assert mismatched == 0
    state: dict[int, str] = {}
    for case_id, action, old, new in history:
        assert state.get(case_id, "new") == old, (case_id, action, old)
        if action in ("escalate", "deliver", "survey"):
            assert old == new
        else:
            assert TRANSITIONS[(old, action)] == new  # type: ignore[index]
        state[case_id] = new
    assert solved_pct() > before


def test_a_reopened_case_goes_back_to_its_office_and_a_manual_route_is_one_event(
    cases_engine: Engine,
) -> None:
    refer(cases_engine, officer(), areas=[DISTRICT], categories=["illiteracy"], now=NOW)
    with cases_engine.begin() as conn:
        case_id = conn.scalar(text("SELECT min(id) FROM problem_case"))
        office = conn.scalar(text("SELECT office FROM problem_case WHERE id = :i"), {"i": case_id})
        version = act(conn, ADMIN, case_id, "acknowledge", version=1, now=NOW,
                      expected_on=NOW.date())  # fmt: skip
        version = act(conn, ADMIN, case_id, "resolve", version=version, now=NOW,
                      resolution="solved_by_household")  # fmt: skip
        with pytest.raises(InvalidInputError, match="note"):
            act(conn, officer(), case_id, "reopen", version=version, now=NOW)
        version = act(conn, officer(), case_id, "reopen", version=version, now=NOW,
                      note="the child left school again")  # fmt: skip
        shown = get_case(conn, ADMIN.scope, case_id, today=NOW.date())
        assert (shown["state"], shown["office"], shown["resolution"]) == ("referred", office, None)
        version = act(conn, officer(), case_id, "close", version=version, now=NOW, note="moved")
        with pytest.raises(InvalidInputError, match="cannot be routed"):
            act(conn, ADMIN, case_id, "route", version=version, now=NOW, office="dle-th")
        version = act(conn, officer(), case_id, "reopen", version=version, now=NOW, note="back")
        shown = get_case(conn, ADMIN.scope, case_id, today=NOW.date())
    actions = [e["action"] for e in shown["history"]]
    assert actions == [
        "route", "acknowledge", "resolve", "reopen", "route", "close", "reopen", "route",
    ]  # fmt: skip
    assert shown["version"] == version


def test_the_district_team_answers_only_for_its_own_cases_and_hands_others_on(
    cases_engine: Engine,
) -> None:
    refer(cases_engine, officer(), areas=[DISTRICT], categories=["no_land_title", "no_income"],
          now=NOW)  # fmt: skip
    with cases_engine.begin() as conn:
        land = conn.scalar(text("SELECT min(id) FROM problem_case WHERE office = 'dol-34'"))
        own = conn.scalar(text("SELECT min(id) FROM problem_case WHERE office LIKE 'dopa-%'"))
        with pytest.raises(ForbiddenError, match="its own cases"):
            act(conn, officer(), land, "acknowledge", version=1, now=NOW,
                expected_on=NOW.date())  # fmt: skip
        act(conn, officer(), own, "acknowledge", version=1, now=NOW, expected_on=NOW.date())
        # Routing corrected: the district team hands its case to another office.
        act(conn, officer(), own, "route", version=2, now=NOW, office="cdd-3401", note="CDD's")
        moved = get_case(conn, ADMIN.scope, own, today=NOW.date())
        with pytest.raises(ForbiddenError):
            act(conn, agency("dol-34"), land, "recategorise", version=1, now=NOW, category="drugs")
    assert (moved["office"], moved["state"], moved["acknowledged_on"]) == ("cdd-3401", "referred",
                                                                          None)  # fmt: skip
    assert [e["action"] for e in moved["history"]] == ["route", "acknowledge", "route"]
    assert moved["history"][-1]["note"] == "CDD's"


def test_closing_a_resolved_case_unsolved_takes_its_resolution_away(cases_engine: Engine) -> None:
    refer(cases_engine, ADMIN, areas=[DISTRICT], categories=["illiteracy"], now=NOW)
    with cases_engine.begin() as conn:
        case_id = conn.scalar(text("SELECT min(id) FROM problem_case"))
        act(conn, ADMIN, case_id, "acknowledge", version=1, now=NOW, expected_on=NOW.date())
        act(conn, ADMIN, case_id, "resolve", version=2, now=NOW, resolution="solved_by_agency")
        act(conn, ADMIN, case_id, "close", version=3, now=NOW, note="it was not solved after all")
        shown = get_case(conn, ADMIN.scope, case_id, today=NOW.date())
        status = conn.scalar(
            text(
                "SELECT p.status FROM problem p JOIN problem_case k "
                "USING (household_id, round, category) WHERE k.id = :i"
            ),
            {"i": case_id},
        )
    assert (shown["state"], shown["resolution"], status) == (
        "closed_unsolved", None, "closed_unsolved",
    )  # fmt: skip
