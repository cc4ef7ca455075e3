"""Households and problems partitioned by survey round.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-21

A national round is some 20 million households loaded at once. As a partition of its own, a new
round is copied into a bare table, indexed in bulk and attached, instead of being written row by
row into indexes that already hold the other rounds (``layers.store.partitions``). Each partition is
``household_r<round>`` / ``problem_r<round>``.

The roll-ups are partitioned the same way, so that a new round's counts are attached with it.
Problems are keyed by (household, round, category), the key the importer always used; ``id``
stays as a number drawn from a sequence, unindexed. Household ids are compared bytewise
(collation "C"): they are codes, and bytewise sorting builds their indexes faster.
"""

import runpy
from collections.abc import Sequence
from pathlib import Path

from alembic import op
from sqlalchemy import text

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TRIGGERS = """
CREATE TRIGGER problem_area BEFORE INSERT ON problem FOR EACH ROW
    WHEN (NEW.subdistrict_code IS NULL) EXECUTE FUNCTION problem_area();
CREATE TRIGGER household_rollup_truncate AFTER TRUNCATE ON household
    FOR EACH STATEMENT EXECUTE FUNCTION rollup_truncated();
CREATE TRIGGER problem_rollup_truncate AFTER TRUNCATE ON problem
    FOR EACH STATEMENT EXECUTE FUNCTION rollup_truncated();
CREATE TRIGGER household_rollup_insert AFTER INSERT ON household
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION rollup_households();
CREATE TRIGGER household_rollup_update AFTER UPDATE ON household
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION rollup_households();
CREATE TRIGGER household_rollup_delete AFTER DELETE ON household
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION rollup_households();
CREATE TRIGGER problem_rollup_insert AFTER INSERT ON problem
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION rollup_problems();
CREATE TRIGGER problem_rollup_update AFTER UPDATE ON problem
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION rollup_problems();
CREATE TRIGGER problem_rollup_delete AFTER DELETE ON problem
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION rollup_problems();
"""

# Names that must be free (indexes and sequences are named per schema) before the new tables
# take them.
FREE_NAMES = """
ALTER TABLE problem DROP CONSTRAINT problem_household_id_round_fkey;
ALTER TABLE problem DROP CONSTRAINT problem_pkey;
ALTER TABLE problem DROP CONSTRAINT uq_problem_household_round_category;
ALTER TABLE household DROP CONSTRAINT household_pkey;
DROP INDEX ix_problem_subdistrict_round, ix_household_geom, ix_household_subdistrict_round;
ALTER TABLE rollup DROP CONSTRAINT rollup_pkey;
DROP INDEX ix_rollup_country, ix_rollup_level;
ALTER TABLE household RENAME TO household_old;
ALTER TABLE problem RENAME TO problem_old;
ALTER TABLE rollup RENAME TO rollup_old;
"""

PARTITIONED = """
CREATE TABLE household (LIKE household_old INCLUDING DEFAULTS INCLUDING CONSTRAINTS)
    PARTITION BY LIST (round);
ALTER TABLE household ALTER household_id TYPE text COLLATE "C";
CREATE TABLE problem (LIKE problem_old INCLUDING DEFAULTS INCLUDING CONSTRAINTS)
    PARTITION BY LIST (round);
ALTER TABLE problem ALTER household_id TYPE text COLLATE "C";
CREATE TABLE rollup (LIKE rollup_old INCLUDING DEFAULTS INCLUDING CONSTRAINTS)
    PARTITION BY LIST (round);
"""

KEYS = """
ALTER TABLE household ADD CONSTRAINT household_pkey PRIMARY KEY (household_id, round);
CREATE INDEX ix_household_geom ON household USING gist (geom);
CREATE INDEX ix_household_subdistrict_round ON household (subdistrict_code, round);
ALTER TABLE household ADD CONSTRAINT household_import_job_id_fkey
    FOREIGN KEY (import_job_id) REFERENCES import_job (id);
ALTER TABLE problem ADD CONSTRAINT problem_pkey PRIMARY KEY (household_id, round, category);
CREATE INDEX ix_problem_subdistrict_round ON problem (subdistrict_code, round);
ALTER TABLE problem ADD CONSTRAINT problem_household_id_round_fkey
    FOREIGN KEY (household_id, round) REFERENCES household (household_id, round)
    ON DELETE CASCADE;
ALTER TABLE problem ADD CONSTRAINT problem_category_fkey
    FOREIGN KEY (category) REFERENCES problem_category (code);
ALTER TABLE problem ADD CONSTRAINT problem_import_job_id_fkey
    FOREIGN KEY (import_job_id) REFERENCES import_job (id);
"""
ROLLUP_KEYS = """
ALTER TABLE rollup ADD CONSTRAINT rollup_pkey PRIMARY KEY (round, code, key);
CREATE INDEX ix_rollup_country ON rollup (round) WHERE code = '';
CREATE INDEX ix_rollup_level ON rollup (round, length(code), code) INCLUDE (key, n);
"""
TABLES = ("household", "problem", "rollup")

# The counts of a set of subdistricts, apart from how they are merged into ``rollup``: a
# statement's recount subtracts what was counted before, a new round is inserted as it is.
FRESH = """
CREATE FUNCTION rollup_fresh(
    p_rounds int[], p_codes text[], p_part text,
    p_households regclass DEFAULT 'household', p_problems regclass DEFAULT 'problem'
) RETURNS TABLE (round int, code text, key text, n bigint) LANGUAGE plpgsql STABLE
-- Compiling these plans (JIT) takes longer than running them.
SET jit = off AS $$
BEGIN
    RETURN QUERY EXECUTE format($q$
    WITH pairs AS (
        SELECT DISTINCT r AS round, c AS code
        FROM unnest($1, $2) AS u(r, c) WHERE c IS NOT NULL
    )
    SELECT h.round, h.subdistrict_code::text, 'households', count(*)
    FROM %1$s h JOIN pairs p ON h.round = p.round AND h.subdistrict_code = p.code
    WHERE $3 = 'households'
    GROUP BY 1, 2
    UNION ALL
    SELECT q.round, q.subdistrict_code::text, 'affected' || coalesce(':' || c.dimension, ''),
        count(DISTINCT q.household_id)
    FROM %2$s q
    JOIN pairs p ON q.round = p.round AND q.subdistrict_code = p.code
    JOIN problem_category c ON c.code = q.category
    WHERE $3 = 'problems'
    GROUP BY GROUPING SETS ((q.round, q.subdistrict_code, c.dimension),
                            (q.round, q.subdistrict_code))
    UNION ALL
    SELECT q.round, q.subdistrict_code::text,
        CASE WHEN GROUPING(c.dimension) = 0 AND GROUPING(q.status) = 0
                THEN 'dimension_status:' || c.dimension || ':' || q.status
             WHEN GROUPING(q.status) = 0 THEN 'status:' || q.status
             WHEN GROUPING(q.category) = 0 THEN 'category:' || q.category
             ELSE 'dimension:' || c.dimension END,
        count(*)
    FROM %2$s q
    JOIN pairs p ON q.round = p.round AND q.subdistrict_code = p.code
    JOIN problem_category c ON c.code = q.category
    WHERE $3 = 'problems'
    GROUP BY GROUPING SETS ((q.round, q.subdistrict_code, q.status),
                            (q.round, q.subdistrict_code, q.category),
                            (q.round, q.subdistrict_code, c.dimension),
                            (q.round, q.subdistrict_code, c.dimension, q.status))
    $q$, p_households, p_problems) USING p_rounds, p_codes, p_part;
END $$;

CREATE OR REPLACE FUNCTION rollup_recount(p_rounds int[], p_codes text[], p_part text)
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    WITH pairs AS (
        SELECT DISTINCT r AS round, c AS code
        FROM unnest(p_rounds, p_codes) AS u(r, c) WHERE c IS NOT NULL
    ),
    stale AS (
        SELECT r.round, r.code, r.key, r.n
        FROM rollup r JOIN pairs p ON r.round = p.round AND r.code = p.code
        WHERE (r.key = 'households') = (p_part = 'households')
    ),
    delta AS (
        SELECT d.round, d.code, d.key, sum(d.n) AS n
        FROM (SELECT * FROM rollup_fresh(p_rounds, p_codes, p_part)
              UNION ALL SELECT s.round, s.code, s.key, -s.n FROM stale s) AS d
        GROUP BY 1, 2, 3
        HAVING sum(d.n) <> 0
    )
    -- Sorted, so that concurrent writers lock roll-up rows in the same order.
    INSERT INTO rollup AS t (round, code, key, n)
    SELECT d.round, l.code, d.key, sum(d.n)
    FROM delta d
    CROSS JOIN LATERAL (VALUES (d.code), (left(d.code, 4)), (left(d.code, 2)), ('')) AS l(code)
    GROUP BY 1, 2, 3
    ORDER BY 1, 2, 3
    ON CONFLICT (round, code, key) DO UPDATE SET n = t.n + excluded.n;
END $$;

-- A round loaded in bulk: its subdistricts were counted (with rollup_fresh over its tables)
-- into the bare table that becomes its roll-up partition; the other levels are added up.
CREATE FUNCTION rollup_add_levels(p_table regclass) RETURNS void
LANGUAGE plpgsql SET jit = off AS $$
BEGIN
    EXECUTE format($q$
    INSERT INTO %1$s (round, code, key, n)
    SELECT f.round, l.code, f.key, sum(f.n)
    FROM %1$s f
    CROSS JOIN LATERAL (VALUES (left(f.code, 4)), (left(f.code, 2)), ('')) AS l(code)
    WHERE length(f.code) = 6
    GROUP BY 1, 2, 3
    $q$, p_table);
END $$;
"""


def _columns(table: str) -> str:
    names = op.get_bind().scalars(
        text(
            "SELECT attname FROM pg_attribute WHERE attrelid = CAST(:t AS regclass) "
            "AND attnum > 0 AND NOT attisdropped ORDER BY attnum"
        ),
        {"t": table},
    )
    return ", ".join(f'"{name}"' for name in names)


def upgrade() -> None:
    op.execute(FREE_NAMES)
    op.execute("ALTER TABLE problem_old ALTER id DROP IDENTITY IF EXISTS")  # none after a downgrade
    op.execute("CREATE SEQUENCE IF NOT EXISTS problem_id_seq")
    op.execute("SELECT setval('problem_id_seq', coalesce(max(id), 0) + 1, false) FROM problem_old")
    op.execute(PARTITIONED)
    op.execute("ALTER TABLE problem ALTER id SET DEFAULT nextval('problem_id_seq')")
    op.execute("ALTER SEQUENCE problem_id_seq OWNED BY problem.id")
    rounds = op.get_bind().scalars(
        text("SELECT round FROM household_old UNION SELECT round FROM rollup_old ORDER BY 1")
    )
    for number in rounds:
        for table in TABLES:
            op.execute(
                f"CREATE TABLE {table}_r{int(number)} PARTITION OF {table} "
                f"FOR VALUES IN ({int(number)})"
            )
    # Triggers come after the copy: the roll-ups already count these rows.
    for table in TABLES:
        columns = _columns(table)
        op.execute(f"INSERT INTO {table} ({columns}) SELECT {columns} FROM {table}_old")  # noqa: S608
    op.execute(KEYS)
    op.execute(ROLLUP_KEYS)
    op.execute("DROP TABLE problem_old, household_old, rollup_old")
    op.execute(TRIGGERS)
    op.execute(FRESH)


def downgrade() -> None:
    earlier = runpy.run_path(str(Path(__file__).with_name("0006_rollup_keys.py")))["RECOUNT"]
    op.execute(earlier)
    op.execute("DROP FUNCTION rollup_add_levels(regclass)")
    op.execute("DROP FUNCTION rollup_fresh(int[], text[], text, regclass, regclass)")
    for table in TABLES:
        op.execute(f"ALTER TABLE {table} RENAME TO {table}_parted")
        op.execute(
            f"CREATE TABLE {table} (LIKE {table}_parted INCLUDING DEFAULTS INCLUDING CONSTRAINTS)"
        )
        if table != "rollup":
            op.execute(f'ALTER TABLE {table} ALTER household_id TYPE text COLLATE "default"')
        columns = _columns(table)
        op.execute(f"INSERT INTO {table} ({columns}) SELECT {columns} FROM {table}_parted")  # noqa: S608
    op.execute("ALTER SEQUENCE problem_id_seq OWNED BY NONE")
    op.execute("DROP TABLE problem_parted, household_parted, rollup_parted")
    op.execute("ALTER SEQUENCE problem_id_seq OWNED BY problem.id")
    op.execute(
        KEYS.replace(
            "PRIMARY KEY (household_id, round, category)",
            "UNIQUE (household_id, round, category)",
        ).replace(
            "ADD CONSTRAINT problem_pkey",
            "ADD CONSTRAINT problem_pkey PRIMARY KEY (id), "
            "ADD CONSTRAINT uq_problem_household_round_category",
        )
    )
    op.execute(ROLLUP_KEYS)
    op.execute(TRIGGERS)
