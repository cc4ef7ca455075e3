"""Roll-ups: equal to raw counts at every level, and current as soon as a change commits."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import Connection, Engine, text

from geo.errors import InvalidInputError, NotFoundError
from geo.synth.survey import Synthetic
from layers.analysis.stats import rollup
from layers.survey.synth import generate, write
from tests.factories import engine_for, importer, with_boundaries

# Independent of the roll-up table and of the problem's copy of the area: raw rows joined to
# their household.
ORACLE = """
SELECT left(h.subdistrict_code, :length) AS code,
       count(DISTINCT h.household_id) AS households,
       count(DISTINCT p.household_id) AS households_with_problems,
       count(p.id) AS problems,
       count(p.id) FILTER (WHERE p.status IN ('solved_by_agency', 'solved_by_household')) AS solved,
       count(p.id) FILTER (WHERE p.status = 'referred') AS referred,
       count(p.id) FILTER (WHERE p.status = 'open') AS open
FROM household h
LEFT JOIN problem p ON p.household_id = h.household_id AND p.round = h.round
WHERE h.round = :round AND h.subdistrict_code LIKE :prefix
GROUP BY 1
"""
FIGURES = ["households", "households_with_problems", "problems", "solved", "referred", "open"]


def oracle(conn: Connection, area: str, length: int, round_: int) -> pd.DataFrame:
    params = {"length": length, "round": round_, "prefix": area + "%"}
    result = conn.execute(text(ORACLE), params)
    return pd.DataFrame(result.all(), columns=list(result.keys())).set_index("code")


def figures(conn: Connection, area: str, level: str, round_: int) -> pd.DataFrame:
    rows = rollup(conn, area=area, level=level, round_=round_)
    frame = pd.DataFrame(rows).set_index("code")
    for status in ("referred", "open"):
        frame[status] = [r[status] for r in frame["resolution"]]
    return frame[frame["households"] > 0][FIGURES]


def assert_rollups_match(engine: Engine, area: str = "34") -> None:
    with engine.connect() as conn:
        for round_ in (2566, 2567):
            for level, length in (("province", 2), ("district", 4), ("subdistrict", 6)):
                where = "" if level == "province" else area
                expected = oracle(conn, where, length, round_).sort_index()
                got = figures(conn, where, level, round_).sort_index()
                pd.testing.assert_frame_equal(
                    got, expected[FIGURES], check_dtype=False, check_index_type=False
                )


@pytest.fixture(scope="module")
def stats_engine(
    new_database: Callable[[], str],
    shared_boundaries: Path,
    synthetic: tuple[Synthetic, Path],
) -> Iterator[Engine]:
    engine = engine_for(with_boundaries(new_database, shared_boundaries))
    importer(engine).run(synthetic[1])
    yield engine
    engine.dispose()


def test_rollups_equal_raw_counts_at_every_level(stats_engine: Engine) -> None:
    assert_rollups_match(stats_engine)
    with stats_engine.connect() as conn:
        province = rollup(conn, area="", level="province", round_=2567)
        assert len(province) == 77  # every province listed, surveyed or not
        ubon = next(p for p in province if p["code"] == "34")
        assert ubon["name_en"] == "Ubon Ratchathani"
        assert sum(ubon["resolution"].values()) == ubon["problems"]
        assert ubon["solved_pct"] == round(100 * ubon["solved"] / ubon["problems"], 2)
        assert ubon["problems_per_1000"] == round(1000 * ubon["problems"] / ubon["households"], 2)
        assert sum(ubon["by_dimension"].values()) == ubon["problems"]
        assert sum(ubon["by_category"].values()) == ubon["problems"]
        empty = next(p for p in province if p["code"] == "10")
        assert empty["households"] == 0 and empty["solved_pct"] is None


def test_villages_and_communities_are_counted_from_raw_rows(stats_engine: Engine) -> None:
    with stats_engine.connect() as conn:
        district = conn.scalar(
            text("SELECT district_code FROM household GROUP BY 1 ORDER BY count(*) DESC LIMIT 1")
        )
        villages = rollup(conn, area=district, level="village", round_=2567)
        expected = conn.execute(
            text(
                "SELECT subdistrict_code || lpad(moo::text, 2, '0') AS code, count(*) "
                "FROM household WHERE round = 2567 AND district_code = :d GROUP BY 1 ORDER BY 1"
            ),
            {"d": district},
        ).all()
        assert [(v["code"], v["households"]) for v in villages] == [tuple(e) for e in expected]
        assert villages[0]["name_en"].startswith("Moo ")
        with pytest.raises(InvalidInputError, match="inside a district or subdistrict"):
            rollup(conn, area="34", level="village")
        with pytest.raises(InvalidInputError, match="not below"):
            rollup(conn, area="3419", level="province")
        with pytest.raises(NotFoundError):
            rollup(conn, area="99", level="district")


def test_a_dimension_filter_counts_only_its_problems_and_households(stats_engine: Engine) -> None:
    with stats_engine.connect() as conn:
        [ubon] = [r for r in rollup(conn, area="", level="province") if r["code"] == "34"]
        [health] = [
            r
            for r in rollup(conn, area="", level="province", dimension="health")
            if r["code"] == "34"
        ]
        expected = conn.execute(
            text(
                "SELECT count(*), count(DISTINCT household_id) FROM problem q "
                "JOIN problem_category c ON c.code = q.category "
                "WHERE c.dimension = 'health' AND q.round = 2567"
            )
        ).one()
        assert (health["problems"], health["households_with_problems"]) == tuple(expected)
        assert health["households"] == ubon["households"]
        assert health["problems"] == ubon["by_dimension"]["health"]


def test_changes_show_in_rollups_when_they_commit(stats_engine: Engine) -> None:
    with stats_engine.begin() as conn:
        household, subdistrict = conn.execute(
            text(
                "SELECT household_id, subdistrict_code FROM problem "
                "WHERE round = 2567 AND status = 'open' LIMIT 1"
            )
        ).one()
        before = {r["code"]: r for r in rollup(conn, area="", level="province", round_=2567)}
        conn.execute(
            text(
                "UPDATE problem SET status = 'solved_by_agency' WHERE household_id = :h "
                "AND round = 2567 AND status = 'open'"
            ),
            {"h": household},
        )
        after = {r["code"]: r for r in rollup(conn, area="", level="province", round_=2567)}
    assert after["34"]["solved"] > before["34"]["solved"]
    assert after["34"]["resolution"]["open"] < before["34"]["resolution"]["open"]
    # A household moves to another subdistrict, one is deleted (its problems go with it), and
    # a problem is added by hand without an area: it takes its household's.
    with stats_engine.begin() as conn:
        other = conn.scalar(
            text(
                "SELECT code FROM admin_unit WHERE level = 'subdistrict' AND code <> :s "
                "AND left(code, 2) <> '34' LIMIT 1"
            ),
            {"s": subdistrict},
        )
        conn.execute(
            text(
                "UPDATE household SET subdistrict_code = :o WHERE household_id = :h AND round = 2567"
            ),
            {"o": other, "h": household},
        )
        conn.execute(
            text(
                "DELETE FROM household WHERE (household_id, round) IN "
                "(SELECT household_id, round FROM problem WHERE round = 2567 "
                " AND household_id <> :h LIMIT 1)"
            ),
            {"h": household},
        )
        conn.execute(
            text(
                "INSERT INTO problem (household_id, round, category, status) "
                "SELECT household_id, 2567, 'no_safety', 'open' FROM household h "
                "WHERE round = 2567 AND NOT EXISTS (SELECT 1 FROM problem p WHERE "
                "p.household_id = h.household_id AND p.round = 2567) LIMIT 3"
            )
        )
        assert conn.scalar(
            text("SELECT count(*) FROM problem WHERE household_id = :h AND subdistrict_code = :o"),
            {"h": household, "o": other},
        )
    assert_rollups_match(stats_engine, area=other[:2])
    assert_rollups_match(stats_engine)


def test_concurrent_status_changes_keep_rollups_exact(stats_engine: Engine) -> None:
    with stats_engine.connect() as conn:
        subdistrict = conn.scalar(
            text(
                "SELECT subdistrict_code FROM problem WHERE round = 2567 "
                "GROUP BY 1 ORDER BY count(*) DESC LIMIT 1"
            )
        )
        ids = conn.scalars(
            text("SELECT id FROM problem WHERE round = 2567 AND subdistrict_code = :s ORDER BY id"),
            {"s": subdistrict},
        ).all()
    errors: list[BaseException] = []

    def change(part: list[int], status: str) -> None:
        try:
            for problem_id in part:
                with stats_engine.begin() as conn:
                    conn.execute(
                        text("UPDATE problem SET status = :s WHERE id = :i"),
                        {"s": status, "i": problem_id},
                    )
        except BaseException as exc:
            errors.append(exc)

    threads = [
        threading.Thread(target=change, args=(ids[0::2], "in_progress")),
        threading.Thread(target=change, args=(ids[1::2], "solved_by_household")),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert_rollups_match(stats_engine)


def test_a_national_survey_reproduces_the_ministrys_solved_share(
    new_database: Callable[[], str], shared_boundaries: Path, tmp_path: Path
) -> None:
    engine = engine_for(with_boundaries(new_database, shared_boundaries))
    with engine.connect() as conn:
        survey = generate(conn, provinces=None, households=30_000, seed=11, defects=0.0)
    write(survey, tmp_path / "national.csv")
    importer(engine).run(tmp_path / "national.csv")
    with engine.connect() as conn:
        provinces = rollup(conn, area="", level="province", round_=2566)
    engine.dispose()
    assert sum(p["households"] > 0 for p in provinces) == 77
    problems = sum(p["problems"] for p in provinces)
    solved = sum(p["solved"] for p in provinces)
    assert 100 * solved / problems == pytest.approx(93.53, abs=0.1)
    affected = sum(p["households_with_problems"] for p in provinces)
    assert affected / sum(p["households"] for p in provinces) == pytest.approx(0.262, abs=0.01)
    assert problems / affected == pytest.approx(3.19, abs=0.1)
