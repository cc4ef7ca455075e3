"""Roll-ups kept current by triggers; problems carry their household's subdistrict.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-21

``rollup`` holds counts per round and area (code '' is the country, then 2-, 4- and 6-digit
codes). A statement that changes households or problems recounts the subdistricts it touched
from the raw rows and adds the difference to the subdistrict, its district, its province and the
country, so a status change is visible in every roll-up when it commits. Recounting (rather than
adding +1/-1 per row) keeps the logic the same for inserts, updates, deletes, cascades and moves.
Under concurrent writers each statement adds only its own difference: the recount and the old
roll-up values come from the same snapshot.

Keys: ``households``; ``affected`` and ``affected:<dimension>`` (households with at least one
problem); ``problems:<category>:<status>`` (revision 0006 replaces these by the keys reports read).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

RECOUNT = """
CREATE FUNCTION rollup_recount(p_rounds int[], p_codes text[], p_part text) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    WITH pairs AS (
        SELECT DISTINCT r AS round, c AS code
        FROM unnest(p_rounds, p_codes) AS u(r, c) WHERE c IS NOT NULL
    ),
    fresh AS (
        SELECT h.round, h.subdistrict_code AS code, 'households'::text AS key, count(*) AS n
        FROM household h JOIN pairs p ON h.round = p.round AND h.subdistrict_code = p.code
        WHERE p_part = 'households'
        GROUP BY 1, 2
        UNION ALL
        SELECT q.round, q.subdistrict_code, 'affected' || coalesce(':' || c.dimension, ''),
            count(DISTINCT q.household_id)
        FROM problem q
        JOIN pairs p ON q.round = p.round AND q.subdistrict_code = p.code
        JOIN problem_category c ON c.code = q.category
        WHERE p_part = 'problems'
        GROUP BY GROUPING SETS ((q.round, q.subdistrict_code, c.dimension),
                                (q.round, q.subdistrict_code))
        UNION ALL
        SELECT q.round, q.subdistrict_code, 'problems:' || q.category || ':' || q.status, count(*)
        FROM problem q JOIN pairs p ON q.round = p.round AND q.subdistrict_code = p.code
        WHERE p_part = 'problems'
        GROUP BY 1, 2, 3
    ),
    stale AS (
        SELECT r.round, r.code, r.key, r.n
        FROM rollup r JOIN pairs p ON r.round = p.round AND r.code = p.code
        WHERE (r.key = 'households') = (p_part = 'households')
    ),
    delta AS (
        SELECT round, code, key, sum(n) AS n
        FROM (SELECT * FROM fresh UNION ALL SELECT round, code, key, -n FROM stale) AS d
        GROUP BY 1, 2, 3
        HAVING sum(n) <> 0
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

CREATE FUNCTION rollup_households() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        PERFORM rollup_recount(array_agg(round), array_agg(subdistrict_code), 'households')
        FROM (SELECT DISTINCT round, subdistrict_code FROM new_rows) AS s;
    ELSIF TG_OP = 'DELETE' THEN
        PERFORM rollup_recount(array_agg(round), array_agg(subdistrict_code), 'households')
        FROM (SELECT DISTINCT round, subdistrict_code FROM old_rows) AS s;
    ELSE
        -- A household that moves takes its problems along.
        UPDATE problem q SET subdistrict_code = n.subdistrict_code
        FROM new_rows n JOIN old_rows o USING (household_id, round)
        WHERE q.household_id = n.household_id AND q.round = n.round
          AND n.subdistrict_code IS DISTINCT FROM o.subdistrict_code;
        PERFORM rollup_recount(array_agg(round), array_agg(code), 'households')
        FROM (
            SELECT o.round, unnest(ARRAY[o.subdistrict_code, n.subdistrict_code]) AS code
            FROM new_rows n JOIN old_rows o USING (household_id, round)
            WHERE n.subdistrict_code IS DISTINCT FROM o.subdistrict_code
        ) AS s;
    END IF;
    RETURN NULL;
END $$;

CREATE FUNCTION rollup_problems() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        PERFORM rollup_recount(array_agg(round), array_agg(subdistrict_code), 'problems')
        FROM (SELECT DISTINCT round, subdistrict_code FROM new_rows) AS s;
    ELSIF TG_OP = 'DELETE' THEN
        PERFORM rollup_recount(array_agg(round), array_agg(subdistrict_code), 'problems')
        FROM (SELECT DISTINCT round, subdistrict_code FROM old_rows) AS s;
    ELSE
        PERFORM rollup_recount(array_agg(round), array_agg(code), 'problems')
        FROM (
            SELECT o.round, o.subdistrict_code AS code FROM new_rows n JOIN old_rows o USING (id)
            WHERE (n.category, n.status, n.subdistrict_code, n.round, n.household_id)
                IS DISTINCT FROM (o.category, o.status, o.subdistrict_code, o.round, o.household_id)
            UNION
            SELECT n.round, n.subdistrict_code FROM new_rows n JOIN old_rows o USING (id)
            WHERE (n.category, n.status, n.subdistrict_code, n.round, n.household_id)
                IS DISTINCT FROM (o.category, o.status, o.subdistrict_code, o.round, o.household_id)
        ) AS s;
    END IF;
    RETURN NULL;
END $$;

CREATE FUNCTION rollup_truncated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM rollup WHERE TG_TABLE_NAME = 'household' OR key <> 'households';
    RETURN NULL;
END $$;

-- Problems written without an area (by hand, or by later features) take their household's.
CREATE FUNCTION problem_area() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    SELECT subdistrict_code INTO NEW.subdistrict_code
    FROM household WHERE household_id = NEW.household_id AND round = NEW.round;
    RETURN NEW;
END $$;
"""

TRIGGERS = [
    "CREATE TRIGGER problem_area BEFORE INSERT ON problem FOR EACH ROW "
    "WHEN (NEW.subdistrict_code IS NULL) EXECUTE FUNCTION problem_area()",
]
TRIGGERS += [
    f"CREATE TRIGGER {table}_rollup_truncate AFTER TRUNCATE ON {table} "
    "FOR EACH STATEMENT EXECUTE FUNCTION rollup_truncated()"
    for table in ("household", "problem")
]
for _table, _function in (("household", "rollup_households"), ("problem", "rollup_problems")):
    TRIGGERS += [
        f"CREATE TRIGGER {_table}_rollup_insert AFTER INSERT ON {_table} "
        f"REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION {_function}()",
        f"CREATE TRIGGER {_table}_rollup_update AFTER UPDATE ON {_table} "
        "REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows "
        f"FOR EACH STATEMENT EXECUTE FUNCTION {_function}()",
        f"CREATE TRIGGER {_table}_rollup_delete AFTER DELETE ON {_table} "
        f"REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION {_function}()",
    ]


def upgrade() -> None:
    op.add_column("problem", sa.Column("subdistrict_code", sa.String(6)))
    op.execute(
        "UPDATE problem q SET subdistrict_code = h.subdistrict_code FROM household h "
        "WHERE h.household_id = q.household_id AND h.round = q.round"
    )
    op.alter_column("problem", "subdistrict_code", nullable=False)
    op.create_index("ix_problem_subdistrict_round", "problem", ["subdistrict_code", "round"])
    op.drop_index("ix_household_subdistrict_code", "household")
    op.create_index("ix_household_subdistrict_round", "household", ["subdistrict_code", "round"])
    op.create_table(
        "rollup",
        sa.Column("round", sa.Integer, primary_key=True),
        sa.Column("code", sa.String(6, collation="C"), primary_key=True),
        sa.Column("key", sa.Text(collation="C"), primary_key=True),
        sa.Column("n", sa.BigInteger, nullable=False),
    )
    # The children of an area at one level: ``length(code) = L AND code LIKE 'prefix%'``.
    op.execute(
        "CREATE INDEX ix_rollup_level ON rollup (round, length(code), code) INCLUDE (key, n)"
    )
    op.execute(RECOUNT)
    for statement in TRIGGERS:
        op.execute(statement)
    for part, table in (("households", "household"), ("problems", "problem")):
        op.execute(
            f"SELECT rollup_recount(array_agg(round), array_agg(subdistrict_code), '{part}') "  # noqa: S608
            f"FROM (SELECT DISTINCT round, subdistrict_code FROM {table}) AS s"
        )


def downgrade() -> None:
    for table in ("household", "problem"):
        for event in ("insert", "update", "delete", "truncate"):
            op.execute(f"DROP TRIGGER {table}_rollup_{event} ON {table}")
    op.execute("DROP TRIGGER problem_area ON problem")
    for function in ("rollup_households", "rollup_problems", "rollup_truncated", "problem_area"):
        op.execute(f"DROP FUNCTION {function}()")
    op.execute("DROP FUNCTION rollup_recount(int[], text[], text)")
    op.drop_table("rollup")
    op.drop_index("ix_household_subdistrict_round", "household")
    op.create_index("ix_household_subdistrict_code", "household", ["subdistrict_code"])
    op.drop_index("ix_problem_subdistrict_round", "problem")
    op.drop_column("problem", "subdistrict_code")
