"""Hardening: abandoned import jobs are ``interrupted``; failed logins are kept for throttling;
the access log keeps a client's own request id apart from ours; targeting runs record what they
were computed from, so a view can reuse a run instead of storing a new one.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


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


def downgrade() -> None:
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
