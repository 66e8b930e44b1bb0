"""audit chain appended in one call

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-26 07:40:00

On PostgreSQL, `audit_append` takes the chain's advisory lock, reads the last hash, and hashes
and inserts a transaction's events, in one round trip: the lock is then held for that call and
the commit, instead of three statements and the client's turns between them (a thread of a busy
worker waits for its interpreter lock after every answer). The hash is the same SHA-256 of the
previous hash and the event's canonical JSON that `app.services.audit.event_hash` computes; the
canonical JSON is made in Python and passed in. SQLite keeps the Python path.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CREATE = """
CREATE FUNCTION audit_append(
    lock_key bigint,
    genesis text,
    occurred timestamp[],
    actor_ids integer[],
    actor_labels text[],
    organization_ids integer[],
    actions text[],
    subject_types text[],
    subject_ids text[],
    details text[],
    canonicals text[]
) RETURNS TABLE (out_id integer, out_prev_hash text, out_hash text)
LANGUAGE plpgsql VOLATILE
-- The function's plan for the last-hash read is made once per connection, often while the
-- table is small; a sequential scan chosen then would grow with the chain.
SET enable_seqscan = off
AS $$
DECLARE
    last_hash text;
    next_hash text;
BEGIN
    PERFORM pg_advisory_xact_lock(lock_key);
    -- A new snapshot after the lock (plpgsql, READ COMMITTED): the previous holder's events.
    SELECT e.hash INTO last_hash FROM audit_event e ORDER BY e.id DESC LIMIT 1;
    last_hash := coalesce(last_hash, genesis);
    FOR i IN 1 .. coalesce(array_length(canonicals, 1), 0) LOOP
        next_hash := encode(sha256(convert_to(last_hash || canonicals[i], 'UTF8')), 'hex');
        INSERT INTO audit_event (
            occurred_at, actor_user_id, actor_label, organization_id, action, subject_type,
            subject_id, details, prev_hash, hash
        ) VALUES (
            occurred[i], actor_ids[i], actor_labels[i], organization_ids[i], actions[i],
            subject_types[i], subject_ids[i], details[i]::json, last_hash, next_hash
        ) RETURNING audit_event.id INTO out_id;
        out_prev_hash := last_hash;
        out_hash := next_hash;
        RETURN NEXT;
        last_hash := next_hash;
    END LOOP;
END
$$
"""


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(CREATE)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "DROP FUNCTION audit_append(bigint, text, timestamp[], integer[], text[], integer[], "
            "text[], text[], text[], text[], text[])"
        )
