"""Hardening: abandoned import jobs are ``interrupted``; failed logins are kept for throttling;
the access log keeps a client's own request id apart from ours; targeting runs record what they
were computed from, so a view can reuse a run instead of storing a new one; the roll-up
triggers plan their joins of the transition tables at each call.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01
"""

import runpy
from collections.abc import Sequence
from pathlib import Path

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The UPDATE branches of the roll-up triggers join the statement's old and new rows. A PL/pgSQL
# statement keeps the plan of its first call in the session: made for a statement of a few rows,
# it is a nested loop, quadratic in a statement of many (15,000 problems re-imported: 5 minutes).
# EXECUTE plans each call with the transition tables' real sizes.
TRIGGER_FUNCTIONS = """
CREATE OR REPLACE FUNCTION rollup_households() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        PERFORM rollup_recount(array_agg(round), array_agg(subdistrict_code), 'households')
        FROM (SELECT DISTINCT round, subdistrict_code FROM new_rows) AS s;
    ELSIF TG_OP = 'DELETE' THEN
        PERFORM rollup_recount(array_agg(round), array_agg(subdistrict_code), 'households')
        FROM (SELECT DISTINCT round, subdistrict_code FROM old_rows) AS s;
    ELSE
        -- A household that moves takes its problems along.
        EXECUTE $q$
            UPDATE problem q SET subdistrict_code = n.subdistrict_code
            FROM new_rows n JOIN old_rows o USING (household_id, round)
            WHERE q.household_id = n.household_id AND q.round = n.round
              AND n.subdistrict_code IS DISTINCT FROM o.subdistrict_code
        $q$;
        EXECUTE $q$
            SELECT rollup_recount(array_agg(round), array_agg(code), 'households')
            FROM (
                SELECT o.round, unnest(ARRAY[o.subdistrict_code, n.subdistrict_code]) AS code
                FROM new_rows n JOIN old_rows o USING (household_id, round)
                WHERE n.subdistrict_code IS DISTINCT FROM o.subdistrict_code
            ) AS s
        $q$;
    END IF;
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION rollup_problems() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        PERFORM rollup_recount(array_agg(round), array_agg(subdistrict_code), 'problems')
        FROM (SELECT DISTINCT round, subdistrict_code FROM new_rows) AS s;
    ELSIF TG_OP = 'DELETE' THEN
        PERFORM rollup_recount(array_agg(round), array_agg(subdistrict_code), 'problems')
        FROM (SELECT DISTINCT round, subdistrict_code FROM old_rows) AS s;
    ELSE
        EXECUTE $q$
            SELECT rollup_recount(array_agg(round), array_agg(code), 'problems')
            FROM (
                SELECT o.round, o.subdistrict_code AS code
                FROM new_rows n JOIN old_rows o USING (id)
                WHERE (n.category, n.status, n.subdistrict_code, n.round, n.household_id)
                    IS DISTINCT FROM
                    (o.category, o.status, o.subdistrict_code, o.round, o.household_id)
                UNION
                SELECT n.round, n.subdistrict_code
                FROM new_rows n JOIN old_rows o USING (id)
                WHERE (n.category, n.status, n.subdistrict_code, n.round, n.household_id)
                    IS DISTINCT FROM
                    (o.category, o.status, o.subdistrict_code, o.round, o.household_id)
            ) AS s
        $q$;
    END IF;
    RETURN NULL;
END $$;
"""


def upgrade() -> None:
    op.drop_constraint("state", "import_job", type_="check")
    op.create_check_constraint(
        "state", "import_job", "state IN ('queued', 'running', 'done', 'failed', 'interrupted')"
    )
    # Jobs left running by a process that is gone (before jobs had owners).
    op.execute(
        "UPDATE import_job SET state = 'interrupted', finished_at = now(), "
        "error = 'interrupted: the process running it stopped' WHERE state IN ('queued', 'running')"
    )
    op.create_table(
        "login_failure",
        sa.Column("id", sa.BigInteger(), sa.Identity(), primary_key=True),
        sa.Column("at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("user_name", sa.Text(), nullable=False),
        sa.Column("address", sa.Text(), nullable=False),
    )
    op.create_index("ix_login_failure_user", "login_failure", ["user_name", "at"])
    op.create_index("ix_login_failure_address", "login_failure", ["address", "at"])
    op.add_column("access_log", sa.Column("client_request_id", sa.String(64)))
    op.add_column("target_run", sa.Column("fingerprint", sa.String(64)))
    op.create_index("ix_target_run_fingerprint", "target_run", ["fingerprint"])
    op.execute(TRIGGER_FUNCTIONS)


def downgrade() -> None:
    earlier = runpy.run_path(str(Path(__file__).with_name("0003_rollups.py")))["RECOUNT"]
    functions = earlier[earlier.index("CREATE FUNCTION rollup_households") :]
    functions = functions[: functions.index("CREATE FUNCTION rollup_truncated")]
    op.execute(functions.replace("CREATE FUNCTION", "CREATE OR REPLACE FUNCTION"))
    op.drop_index("ix_target_run_fingerprint", table_name="target_run")
    op.drop_column("target_run", "fingerprint")
    op.drop_column("access_log", "client_request_id")
    op.drop_index("ix_login_failure_address", table_name="login_failure")
    op.drop_index("ix_login_failure_user", table_name="login_failure")
    op.drop_table("login_failure")
    op.execute("UPDATE import_job SET state = 'failed' WHERE state = 'interrupted'")
    op.drop_constraint("state", "import_job", type_="check")
    op.create_check_constraint(
        "state", "import_job", "state IN ('queued', 'running', 'done', 'failed')"
    )
