"""requests for acceptance (the provider asks resellers for customers' re-acceptance)

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-26 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OPEN = "closed_at IS NULL"


def upgrade() -> None:
    op.create_table(
        "acceptance_request",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("reseller_id", sa.Integer(), nullable=False),
        sa.Column("requested_by_id", sa.Integer(), nullable=False),
        sa.Column("message", sa.Text(), nullable=True),
        sa.Column("template_id", sa.String(length=36), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("closed_at", sa.DateTime(), nullable=True),
        sa.Column("closed_reason", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customer.id"],
            name=op.f("fk_acceptance_request_customer_id_customer"),
        ),
        sa.ForeignKeyConstraint(
            ["reseller_id"],
            ["organization.id"],
            name=op.f("fk_acceptance_request_reseller_id_organization"),
        ),
        sa.ForeignKeyConstraint(
            ["requested_by_id"],
            ["user_account.id"],
            name=op.f("fk_acceptance_request_requested_by_id_user_account"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_acceptance_request")),
    )
    op.create_index(
        op.f("ix_acceptance_request_customer_id"), "acceptance_request", ["customer_id"]
    )
    op.create_index(
        op.f("ix_acceptance_request_reseller_id"), "acceptance_request", ["reseller_id"]
    )
    op.create_index(
        "uq_acceptance_request_open",
        "acceptance_request",
        ["customer_id", "reseller_id"],
        unique=True,
        sqlite_where=sa.text(OPEN),
        postgresql_where=sa.text(OPEN),
    )


def downgrade() -> None:
    op.drop_index("uq_acceptance_request_open", table_name="acceptance_request")
    op.drop_index(op.f("ix_acceptance_request_reseller_id"), table_name="acceptance_request")
    op.drop_index(op.f("ix_acceptance_request_customer_id"), table_name="acceptance_request")
    op.drop_table("acceptance_request")
