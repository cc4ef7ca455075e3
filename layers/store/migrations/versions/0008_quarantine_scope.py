"""Who started an import, and the declared subdistrict of each refused row, so that refused rows
are shown only inside the caller's area (or to the uploader).

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-21
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("import_job", sa.Column("started_by", sa.Text()))
    op.add_column("quarantine", sa.Column("subdistrict_code", sa.String(6, collation="C")))
    # Rows refused before this revision: their declared code, when the file used the canonical name.
    op.execute(
        "UPDATE quarantine SET subdistrict_code = values ->> 'subdistrict_code' "
        "WHERE values ->> 'subdistrict_code' ~ '^[0-9]{6}$'"
    )
    op.create_index(
        "ix_quarantine_job_subdistrict", "quarantine", ["import_job_id", "subdistrict_code"]
    )


def downgrade() -> None:
    op.drop_index("ix_quarantine_job_subdistrict", table_name="quarantine")
    op.drop_column("quarantine", "subdistrict_code")
    op.drop_column("import_job", "started_by")
