"""attestations (enhanced flow), customer and reseller country, agreement language, swept_at

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-25 22:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

LIVE = "status IN ('creating', 'pending', 'accepted')"


def upgrade() -> None:
    op.add_column("organization", sa.Column("country", sa.String(length=2), nullable=True))
    op.add_column("customer", sa.Column("country", sa.String(length=2), nullable=True))
    op.add_column("acceptance_record", sa.Column("language", sa.String(length=16), nullable=True))
    op.add_column("acceptance_record", sa.Column("swept_at", sa.DateTime(), nullable=True))
    op.create_table(
        "attestation",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("record_id", sa.Integer(), nullable=False),
        sa.Column("request_id", sa.String(length=36), nullable=False),
        sa.Column("attestation_id", sa.String(length=64), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("acceptance_url", sa.String(length=500), nullable=True),
        sa.Column("expires_at", sa.DateTime(), nullable=True),
        sa.Column("polls", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.Column("accepted_at", sa.DateTime(), nullable=True),
        sa.Column("finished_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customer.id"], name=op.f("fk_attestation_customer_id_customer")
        ),
        sa.ForeignKeyConstraint(
            ["record_id"],
            ["acceptance_record.id"],
            name=op.f("fk_attestation_record_id_acceptance_record"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_attestation")),
    )
    op.create_index(op.f("ix_attestation_attestation_id"), "attestation", ["attestation_id"])
    op.create_index(op.f("ix_attestation_customer_id"), "attestation", ["customer_id"])
    op.create_index(op.f("ix_attestation_record_id"), "attestation", ["record_id"])
    op.create_index(
        "uq_attestation_live_customer",
        "attestation",
        ["customer_id"],
        unique=True,
        sqlite_where=sa.text(LIVE),
        postgresql_where=sa.text(LIVE),
    )


def downgrade() -> None:
    op.drop_index("uq_attestation_live_customer", table_name="attestation")
    op.drop_index(op.f("ix_attestation_record_id"), table_name="attestation")
    op.drop_index(op.f("ix_attestation_customer_id"), table_name="attestation")
    op.drop_index(op.f("ix_attestation_attestation_id"), table_name="attestation")
    op.drop_table("attestation")
    with op.batch_alter_table("acceptance_record", schema=None) as batch_op:
        batch_op.drop_column("swept_at")
        batch_op.drop_column("language")
    with op.batch_alter_table("customer", schema=None) as batch_op:
        batch_op.drop_column("country")
    with op.batch_alter_table("organization", schema=None) as batch_op:
        batch_op.drop_column("country")
