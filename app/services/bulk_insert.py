"""Many rows into (or updated in) one table with one statement, on SQLite and PostgreSQL.

SQLAlchemy's multi-row INSERT (`insertmanyvalues`) writes one placeholder per value: for a page
of 1,000 rows of 15 columns psycopg then splits a 15,000-placeholder query in Python, which cost
more than the rest of the import batch. On PostgreSQL the rows go instead as COPY when nothing
is returned, else as one array per column (`INSERT ... SELECT * FROM unnest(CAST(:p0 AS
type[]), ...) RETURNING ...`, and `UPDATE ... FROM unnest(...)`): short statements whatever the
number of rows. SQLite keeps SQLAlchemy's statements run for many rows at once (its driver binds
values cheaply). Used by the bulk CSV import.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Dialect, Table, bindparam, text
from sqlmodel import Session


def insert_rows(
    session: Session,
    table: Table,
    rows: Sequence[dict[str, Any]],
    *,
    returning: Sequence[str] = (),
) -> list[tuple[Any, ...]]:
    """Insert `rows` (dicts with the same keys) into `table`; the `returning` columns' values.

    The returned rows come in no particular order: return a unique column to match them up.
    """
    if not rows:
        return []
    dialect = session.get_bind().dialect
    if dialect.name != "postgresql":
        statement = table.insert()
        if returning:
            result = session.execute(statement.returning(*(table.c[c] for c in returning)), rows)
            return [tuple(r) for r in result]
        session.execute(statement, rows)
        return []
    quote = dialect.identifier_preparer.quote
    names = list(rows[0])
    if not returning:
        _copy(session, table, rows, names)
        return []
    params, arrays = _arrays(dialect, table, rows, names)
    # Every name is the table's own (table.c[name] in _arrays), quoted; values are parameters.
    sql = (
        f"INSERT INTO {dialect.identifier_preparer.format_table(table)} "  # noqa: S608  # nosec B608
        f"({', '.join(quote(name) for name in names)}) "
        f"SELECT * FROM unnest({', '.join(arrays)})"
    )
    sql += f" RETURNING {', '.join(quote(c) for c in returning)}"
    return [tuple(r) for r in session.execute(text(sql), params)]


def _copy(session: Session, table: Table, rows: Sequence[dict[str, Any]], names: list[str]) -> None:
    """PostgreSQL's COPY into `table`, in the session's transaction (nothing to return)."""
    dialect = session.get_bind().dialect
    quote = dialect.identifier_preparer.quote
    processors = [
        table.c[name].type.dialect_impl(dialect).bind_processor(dialect) for name in names
    ]
    connection = session.connection().connection.driver_connection
    if connection is None:
        raise RuntimeError("the session's connection is closed")
    # Every name is the table's own (table.c[name] above), quoted.
    sql = (
        f"COPY {dialect.identifier_preparer.format_table(table)} "
        f"({', '.join(quote(name) for name in names)}) FROM STDIN"
    )
    with connection.cursor() as cursor, cursor.copy(sql) as copy:
        for row in rows:
            copy.write_row(
                [
                    process(row[name]) if process else row[name]
                    for name, process in zip(names, processors, strict=True)
                ]
            )


def update_rows(
    session: Session, table: Table, rows: Sequence[dict[str, Any]], *, key: str = "id"
) -> None:
    """Set the values of `rows` (dicts with the same keys, `key` naming each row) in one go."""
    if not rows:
        return
    dialect = session.get_bind().dialect
    names = [name for name in rows[0] if name != key]
    if dialect.name != "postgresql":
        statement = table.update().where(table.c[key] == bindparam("_key"))
        session.execute(
            statement, [{"_key": row[key], **{n: row[n] for n in names}} for row in rows]
        )
        return
    quote = dialect.identifier_preparer.quote
    params, arrays = _arrays(dialect, table, rows, [key, *names])
    # Every name is the table's own (table.c[name] in _arrays), quoted; values are parameters.
    sql = (
        f"UPDATE {dialect.identifier_preparer.format_table(table)} AS t SET "  # noqa: S608  # nosec B608
        f"{', '.join(f'{quote(n)} = v.{quote(n)}' for n in names)} "
        f"FROM unnest({', '.join(arrays)}) AS v({', '.join(quote(n) for n in [key, *names])}) "
        f"WHERE t.{quote(key)} = v.{quote(key)}"
    )
    session.execute(text(sql), params)


def _arrays(
    dialect: Dialect, table: Table, rows: Sequence[dict[str, Any]], names: Sequence[str]
) -> tuple[dict[str, list[Any]], list[str]]:
    """One array parameter per column, each cast to the column's type, for `unnest`."""
    params: dict[str, list[Any]] = {}
    arrays = []
    for n, name in enumerate(names):
        column_type = table.c[name].type
        # The column type's own conversion (aware times to naive UTC, JSON to text, ...).
        process = column_type.dialect_impl(dialect).bind_processor(dialect)
        values = [row[name] for row in rows]
        params[f"p{n}"] = [process(v) for v in values] if process else values
        arrays.append(f"CAST(:p{n} AS {column_type.compile(dialect=dialect)}[])")
    return params, arrays
