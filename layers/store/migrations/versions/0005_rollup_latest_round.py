"""The newest round in the roll-ups, found without scanning a round's rows.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-21
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute("CREATE INDEX ix_rollup_country ON rollup (round) WHERE code = ''")


def downgrade() -> None:
    op.execute("DROP INDEX ix_rollup_country")
