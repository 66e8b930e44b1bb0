"""evidence files

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-26 00:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # The bytes sit in the row (BLOB / BYTEA): written in the transaction of their audit event,
    # kept in every backup of the database, never half-written on a disk beside it.
    op.create_table(
        "evidence_file",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("public_id", sa.String(length=32), nullable=False),
        sa.Column("record_id", sa.Integer(), nullable=False),
        sa.Column("filename", sa.String(length=255), nullable=False),
        sa.Column("content_type", sa.String(length=64), nullable=False),
        sa.Column("size_bytes", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.Column("uploaded_by_id", sa.Integer(), nullable=False),
        sa.Column("uploaded_at", sa.DateTime(), nullable=False),
        sa.Column("removed_at", sa.DateTime(), nullable=True),
        sa.Column("removed_by_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["record_id"],
            ["acceptance_record.id"],
            name=op.f("fk_evidence_file_record_id_acceptance_record"),
        ),
        sa.ForeignKeyConstraint(
            ["uploaded_by_id"],
            ["user_account.id"],
            name=op.f("fk_evidence_file_uploaded_by_id_user_account"),
        ),
        sa.ForeignKeyConstraint(
            ["removed_by_id"],
            ["user_account.id"],
            name=op.f("fk_evidence_file_removed_by_id_user_account"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_evidence_file")),
        sa.UniqueConstraint("public_id", name=op.f("uq_evidence_file_public_id")),
    )
    op.create_index(op.f("ix_evidence_file_record_id"), "evidence_file", ["record_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_evidence_file_record_id"), table_name="evidence_file")
    op.drop_table("evidence_file")
