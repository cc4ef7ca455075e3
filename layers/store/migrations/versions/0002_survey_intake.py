"""Survey intake: households per round, problems, import jobs, quarantine.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-21
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from geoalchemy2 import Geometry
from sqlalchemy.dialects.postgresql import ARRAY, JSONB

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PRECISIONS = "('gps', 'gps_corrected', 'village', 'subdistrict', 'district')"
STATUSES = (
    "('open', 'in_progress', 'referred', 'solved_by_agency', 'solved_by_household', "
    "'closed_unsolved')"
)


def upgrade() -> None:
    op.create_table(
        "import_job",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("file_name", sa.Text, nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False, index=True),
        sa.Column("round", sa.Integer),
        sa.Column("profile", sa.Text),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("rows_done", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("report", JSONB, nullable=False, server_default="{}"),
        sa.Column("error", sa.Text),
        sa.Column(
            "started_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column("finished_at", sa.DateTime(timezone=True)),
        sa.CheckConstraint("state IN ('queued', 'running', 'done', 'failed')", name="state"),
    )
    op.create_table(
        "household",
        sa.Column("household_id", sa.Text, primary_key=True),
        sa.Column("round", sa.Integer, primary_key=True, comment="survey round, Buddhist Era year"),
        sa.Column("house_no", sa.Text),
        sa.Column("moo", sa.Integer, comment="village number inside the subdistrict"),
        sa.Column("declared_subdistrict", sa.String(6), nullable=False),
        sa.Column("community", sa.Text),
        sa.Column("members", sa.Integer),
        sa.Column("urban", sa.Boolean),
        sa.Column("head_id_hash", sa.String(64), comment="keyed hash of the head's national ID"),
        sa.Column("geom", Geometry("POINT", srid=4326, spatial_index=False), nullable=False),
        sa.Column("precision", sa.String(16), nullable=False),
        sa.Column("outside_m", sa.Float, comment="metres from the declared subdistrict"),
        sa.Column("flags", ARRAY(sa.Text), nullable=False, server_default="{}"),
        sa.Column("subdistrict_code", sa.String(6), nullable=False, index=True),
        # Codes nest, so a district or province is a prefix range of the subdistrict index.
        sa.Column("district_code", sa.String(4), nullable=False),
        sa.Column("province_code", sa.String(2), nullable=False),
        sa.Column("surveyed_on", sa.Date),
        sa.Column("import_job_id", sa.Integer, sa.ForeignKey("import_job.id")),
        sa.Column("source_row", sa.BigInteger),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.CheckConstraint(f"precision IN {PRECISIONS}", name="precision"),
    )
    op.create_index("ix_household_geom", "household", ["geom"], postgresql_using="gist")
    op.create_table(
        "problem",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("household_id", sa.Text, nullable=False),
        sa.Column("round", sa.Integer, nullable=False),
        sa.Column(
            "category",
            sa.String(48),
            sa.ForeignKey("problem_category.code"),
            nullable=False,
        ),
        sa.Column("detail", sa.Text),
        sa.Column("status", sa.String(24), nullable=False),
        sa.Column("reported_on", sa.Date),
        sa.Column("updated_on", sa.Date),
        sa.Column("resolved_on", sa.Date),
        sa.Column("import_job_id", sa.Integer, sa.ForeignKey("import_job.id")),
        sa.Column("source_row", sa.BigInteger),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["household_id", "round"],
            ["household.household_id", "household.round"],
            ondelete="CASCADE",
        ),
        sa.UniqueConstraint(
            "household_id", "round", "category", name="uq_problem_household_round_category"
        ),
        sa.CheckConstraint(f"status IN {STATUSES}", name="status"),
    )
    op.create_table(
        "quarantine",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column(
            "import_job_id",
            sa.Integer,
            sa.ForeignKey("import_job.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("file_name", sa.Text, nullable=False),
        sa.Column("row_number", sa.BigInteger, nullable=False),
        sa.Column("reasons", ARRAY(sa.Text), nullable=False),
        sa.Column("messages", ARRAY(sa.Text), nullable=False),
        sa.Column(
            "values", JSONB, nullable=False, comment="the row as read, personal fields treated"
        ),
        sa.UniqueConstraint("sha256", "row_number", name="uq_quarantine_file_row"),
    )


def downgrade() -> None:
    op.drop_table("quarantine")
    op.drop_table("problem")
    op.drop_table("household")
    op.drop_table("import_job")
