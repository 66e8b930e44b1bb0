"""record anonymised_at (retention of rejected and withdrawn submissions)

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25 21:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("acceptance_record", sa.Column("anonymised_at", sa.DateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("acceptance_record", schema=None) as batch_op:
        batch_op.drop_column("anonymised_at")
