"""Survey rounds as partitions of ``household``, ``problem`` and ``rollup``.

A round that is not in the database yet is loaded in bulk: its rows are copied into bare tables
(no index, no trigger); at the end each is indexed in one pass, the round is counted once into a
bare roll-up table, and the three are attached as the round's partitions in one transaction.
Writing the same rows into indexed tables costs several times as much (see ``bench/ingest.py``).
Rows of rounds already attached are upserted as before, and their roll-ups kept by triggers.
"""

from __future__ import annotations

import logging
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

from sqlalchemy import Connection, Engine, func, select, text

from geo.errors import NotFoundError
from layers.store.models import Rollup

log = logging.getLogger(__name__)
DATA = ("household", "problem")
TABLES = (*DATA, "rollup")
LOCK_CLASS = 0x62616D72
"""First key of the advisory lock held while a round is being loaded (the second is the round)."""

ATTACHED = """
SELECT p.relname FROM pg_inherits i
JOIN pg_class p ON p.oid = i.inhrelid
WHERE i.inhparent = CAST('household' AS regclass)
"""
# The subdistrict counts of one bare table: what ``rollup_recount`` counts, once. The other
# part's table is named by its parent, which the query plans but does not read: touching the
# other bare table while it is being indexed would deadlock.
COUNT = """
INSERT INTO {counts}
SELECT f.* FROM (
    SELECT array_agg(round) AS rounds, array_agg(subdistrict_code::text) AS codes
    FROM (SELECT DISTINCT round, subdistrict_code FROM {t}) AS s
) AS a, rollup_fresh(a.rounds, a.codes, :part, CAST(:household AS regclass),
                     CAST(:problem AS regclass)) AS f
"""
BARE = "CREATE TABLE {t} (LIKE {parent} INCLUDING DEFAULTS INCLUDING CONSTRAINTS)"
INDEXES = {
    "household": (
        "ALTER TABLE {t} ADD CONSTRAINT {t_pkey} PRIMARY KEY (household_id, round)",
        "CREATE INDEX {t_geom} ON {t} USING gist (geom)",
        "CREATE INDEX {t_area} ON {t} (subdistrict_code, round)",
    ),
    "problem": (
        "ALTER TABLE {t} ADD CONSTRAINT {t_pkey} PRIMARY KEY (household_id, round, category)",
        "CREATE INDEX {t_area} ON {t} (subdistrict_code, round)",
    ),
    "rollup": (
        "ALTER TABLE {t} ADD CONSTRAINT {t_pkey} PRIMARY KEY (round, code, key)",
        "CREATE INDEX {t_country} ON {t} (round) WHERE code = ''",
        "CREATE INDEX {t_level} ON {t} (round, length(code), code) INCLUDE (key, n)",
    ),
}


def partition(table: str, round: int) -> str:
    """The name of a round's partition of ``household``, ``problem`` or ``rollup``."""
    return f"{table}_r{int(round)}"


def _names(conn: Connection, table: str, round: int) -> dict[str, str]:
    """Quoted names for the statements above."""
    quote = conn.dialect.identifier_preparer.quote
    name = partition(table, round)
    parts = ("pkey", "geom", "area", "round", "country", "level")
    return {
        "t": quote(name),
        "parent": quote(table),
        "counts": quote(partition("rollup", round)),
        **{f"t_{part}": quote(f"{name}_{part}") for part in parts},
    }


def attached_rounds(conn: Connection) -> set[int]:
    """Rounds that have partitions (and so can be queried and upserted into)."""
    return {int(name.rsplit("_r", 1)[1]) for name in conn.scalars(text(ATTACHED))}


def ensure_round(conn: Connection, round: int) -> None:
    """Create a round's (empty) partitions if it has none, for writers other than the importer."""
    for table in TABLES:
        names = _names(conn, table, round)
        conn.exec_driver_sql(
            "CREATE TABLE IF NOT EXISTS {t} PARTITION OF {parent} FOR VALUES IN ({r})".format(
                r=int(round), **names
            )
        )


@dataclass
class RoundLoad:
    """A new round being loaded in bulk: its bare tables, until they are attached.

    The loading connection holds an advisory lock on the round from ``start`` to ``release``, so
    that a second import of the same round waits and then upserts into the attached partitions.
    Tables left by a load that was killed are dropped by the next one, which starts over.
    """

    round: int

    @classmethod
    def start(cls, conn: Connection, round: int) -> RoundLoad | None:
        """Lock the round and create its bare tables; None if the round is attached already.

        Call it outside a transaction: it commits its own.
        """
        with conn.begin():
            # Another import may be loading this round for minutes: wait for it.
            conn.exec_driver_sql("SET LOCAL statement_timeout = 0")
            conn.execute(text("SELECT pg_advisory_lock(:c, :r)"), {"c": LOCK_CLASS, "r": round})
            attached = round in attached_rounds(conn)
        if attached:
            cls._unlock(conn, round)
            return None
        with conn.begin():
            for table in TABLES:
                names = _names(conn, table, round)
                conn.exec_driver_sql("DROP TABLE IF EXISTS {t}".format(**names))
                conn.exec_driver_sql(BARE.format(**names))
                # Lets ATTACH skip scanning the table for rows of other rounds.
                conn.exec_driver_sql(
                    "ALTER TABLE {t} ADD CONSTRAINT {t_round} CHECK (round = {r})".format(
                        r=int(round), **names
                    )
                )
        log.info("round %s is new: it is loaded in bulk and attached at the end", round)
        return cls(round)

    def build(self, conn: Connection, table: str) -> None:
        """Index one bare table (before attaching, so that ATTACH adopts the indexes), and count it.

        A data table is then counted into the bare roll-up table, by subdistrict; the roll-up
        table, indexed last, first adds up its districts, provinces and country.
        """
        names = _names(conn, table, self.round)
        with conn.begin():
            conn.exec_driver_sql("SET LOCAL statement_timeout = 0")
            if table == "rollup":
                conn.execute(
                    text("SELECT rollup_add_levels(CAST(:t AS regclass))"),
                    {"t": partition(table, self.round)},
                )
            for statement in INDEXES[table]:
                conn.exec_driver_sql(statement.format(**names))
            conn.exec_driver_sql("ANALYZE {t}".format(**names))
            if table in DATA:
                parents = {name: name for name in DATA}
                conn.execute(
                    text(COUNT.format(**names)),
                    {**parents, "part": f"{table}s", table: partition(table, self.round)},
                )

    def attach(self, conn: Connection) -> None:
        """Attach the bare tables as the round's partitions, in one step."""
        with conn.begin():
            conn.exec_driver_sql("SET LOCAL statement_timeout = 0")
            for table in TABLES:
                names = _names(conn, table, self.round)
                conn.exec_driver_sql(
                    "ALTER TABLE {parent} ATTACH PARTITION {t} FOR VALUES IN ({r})".format(
                        r=int(self.round), **names
                    )
                )
                conn.exec_driver_sql("ALTER TABLE {t} DROP CONSTRAINT {t_round}".format(**names))

    def drop(self, conn: Connection) -> None:
        """Forget a load that failed: its bare tables go."""
        with conn.begin():
            for table in TABLES:
                names = _names(conn, table, self.round)
                conn.exec_driver_sql("DROP TABLE IF EXISTS {t}".format(**names))

    def release(self, conn: Connection) -> None:
        """Release the round's lock, taken by ``start``."""
        self._unlock(conn, self.round)

    @staticmethod
    def _unlock(conn: Connection, round: int) -> None:
        conn.execute(text("SELECT pg_advisory_unlock(:c, :r)"), {"c": LOCK_CLASS, "r": round})
        conn.commit()


def finish(engine: Engine, loads: list[RoundLoad], conn: Connection) -> None:
    """Index and count the loaded tables two at a time (one per core), then attach them."""

    def build(load: RoundLoad, table: str) -> None:
        with engine.connect() as other:
            load.build(other, table)

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="bamrung-index") as pool:
        data: dict[int, list[Future[None]]] = {
            load.round: [pool.submit(build, load, table) for table in DATA] for load in loads
        }
        counted = []
        for load in loads:  # a round's roll-ups once both its tables are counted
            for future in data[load.round]:
                future.result()
            counted.append(pool.submit(build, load, "rollup"))
        for future in counted:
            future.result()
    indexed = time.perf_counter()
    for load in loads:
        load.attach(conn)
    log.info(
        "round(s) %s indexed and counted in %.1f s, attached in %.1f s",
        ", ".join(str(load.round) for load in loads),
        indexed - started,
        time.perf_counter() - indexed,
    )


def latest_round(conn: Connection) -> int:
    """The newest survey round that has households."""
    found = conn.scalar(
        select(func.max(Rollup.round)).where(
            Rollup.code == "", Rollup.key == "households", Rollup.n > 0
        )
    )
    if found is None:
        raise NotFoundError("no survey has been imported yet", needs="survey")
    return int(found)


def survey_rounds(conn: Connection) -> list[int]:
    """The survey rounds that have households, oldest first."""
    found = conn.scalars(
        select(Rollup.round)
        .where(Rollup.code == "", Rollup.key == "households", Rollup.n > 0)
        .distinct()
        .order_by(Rollup.round)
    )
    return [int(r) for r in found]
