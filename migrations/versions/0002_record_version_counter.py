"""record version counter (compare-and-set on every update of a record)

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25 20:55:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # A plain ADD COLUMN: SQLite supports it with a constant default, no table rebuild needed.
    op.add_column(
        "acceptance_record",
        sa.Column("version", sa.Integer(), server_default=sa.text("1"), nullable=False),
    )


def downgrade() -> None:
    with op.batch_alter_table("acceptance_record", schema=None) as batch_op:
        batch_op.drop_column("version")
