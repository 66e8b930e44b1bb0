"""bulk import rows

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-26 00:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("import_job") as batch:
        batch.add_column(
            sa.Column("rows_created", sa.Integer(), nullable=False, server_default=sa.text("0"))
        )
        batch.add_column(
            sa.Column("rows_duplicate", sa.Integer(), nullable=False, server_default=sa.text("0"))
        )
        batch.add_column(
            sa.Column("columns", sa.JSON(), nullable=False, server_default=sa.text("'[]'"))
        )
        batch.add_column(sa.Column("encoding", sa.String(length=16), nullable=True))
        batch.add_column(sa.Column("delimiter", sa.String(length=16), nullable=True))
        batch.add_column(sa.Column("started_at", sa.DateTime(), nullable=True))
        batch.add_column(sa.Column("touched_at", sa.DateTime(), nullable=True))
        batch.create_index("ix_import_job_status_touched", ["status", "touched_at"])

    op.create_table(
        "import_row",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("job_id", sa.Integer(), nullable=False),
        sa.Column("line", sa.Integer(), nullable=False),
        sa.Column("values", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("record_id", sa.Integer(), nullable=True),
        sa.Column("errors", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["job_id"], ["import_job.id"], name=op.f("fk_import_row_job_id_import_job")
        ),
        sa.ForeignKeyConstraint(
            ["record_id"],
            ["acceptance_record.id"],
            name=op.f("fk_import_row_record_id_acceptance_record"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_import_row")),
        sa.UniqueConstraint("job_id", "line", name=op.f("uq_import_row_job_id")),
    )
    op.create_index("ix_import_row_job_status_line", "import_row", ["job_id", "status", "line"])

    op.create_table(
        "imported_acceptance",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("reseller_id", sa.Integer(), nullable=False),
        sa.Column("row_key", sa.String(length=64), nullable=False),
        sa.Column("record_id", sa.Integer(), nullable=False),
        sa.Column("job_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["reseller_id"],
            ["organization.id"],
            name=op.f("fk_imported_acceptance_reseller_id_organization"),
        ),
        sa.ForeignKeyConstraint(
            ["record_id"],
            ["acceptance_record.id"],
            name=op.f("fk_imported_acceptance_record_id_acceptance_record"),
        ),
        sa.ForeignKeyConstraint(
            ["job_id"], ["import_job.id"], name=op.f("fk_imported_acceptance_job_id_import_job")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_imported_acceptance")),
        # One record per reseller and row content: a re-upload or a second run creates nothing.
        sa.UniqueConstraint(
            "reseller_id", "row_key", name=op.f("uq_imported_acceptance_reseller_id")
        ),
    )
    op.create_index(op.f("ix_imported_acceptance_record_id"), "imported_acceptance", ["record_id"])
    op.create_index(op.f("ix_imported_acceptance_job_id"), "imported_acceptance", ["job_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_imported_acceptance_job_id"), table_name="imported_acceptance")
    op.drop_index(op.f("ix_imported_acceptance_record_id"), table_name="imported_acceptance")
    op.drop_table("imported_acceptance")
    op.drop_index("ix_import_row_job_status_line", table_name="import_row")
    op.drop_table("import_row")
    with op.batch_alter_table("import_job") as batch:
        batch.drop_index("ix_import_job_status_touched")
        batch.drop_column("touched_at")
        batch.drop_column("started_at")
        batch.drop_column("delimiter")
        batch.drop_column("encoding")
        batch.drop_column("columns")
        batch.drop_column("rows_duplicate")
        batch.drop_column("rows_created")
