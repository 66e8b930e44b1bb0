"""list and search indexes

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-26 00:30:00

Indexes that keep every list's keyset pages an index range scan at 100,000 records and more:
the unfiltered queue, a customer's timeline, a reseller's records by status, lists ordered by the
last change (waiting, failures), the ledger by time (exports, the dashboard's chart), and the
customer lists by name.
"""

from collections.abc import Sequence

import sqlalchemy as sa  # noqa: F401
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEXES = (
    ("acceptance_record", "ix_acceptance_record_created", ["created_at", "id"]),
    (
        "acceptance_record",
        "ix_acceptance_record_customer_created",
        ["customer_id", "created_at", "id"],
    ),
    (
        "acceptance_record",
        "ix_acceptance_record_reseller_status_created",
        ["reseller_id", "status", "created_at", "id"],
    ),
    ("acceptance_record", "ix_acceptance_record_status_updated", ["status", "updated_at", "id"]),
    ("confirmation", "ix_confirmation_created", ["created_at", "id"]),
    ("customer", "ix_customer_company_name", ["company_name", "id"]),
    (
        "customer_reseller",
        "ix_customer_reseller_reseller_name",
        ["reseller_id", "company_name", "customer_id"],
    ),
)


def upgrade() -> None:
    for table, name, columns in INDEXES:
        with op.batch_alter_table(table) as batch:
            batch.create_index(name, columns, unique=False)


def downgrade() -> None:
    for table, name, _columns in reversed(INDEXES):
        with op.batch_alter_table(table) as batch:
            batch.drop_index(name)
