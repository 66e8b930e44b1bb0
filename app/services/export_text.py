"""The text of an audit export (app/services/export.py): its rows written as CSV lines or as
one streamed JSON array.

- CSV: UTF-8 with a byte-order mark (Excel opens it as UTF-8), one header line, cells that a
  spreadsheet would run as a formula (= + - @ tab CR) prefixed with a quote.
- JSON: one array of objects (not NDJSON), keys in column order, times in ISO 8601.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator, Sequence
from datetime import date, datetime
from typing import Any

from app.services.audit_log import safe_cell

BOM = "\ufeff"


def _plain(value: Any) -> Any:
    """A value as JSON holds it: times and dates in ISO 8601 (UTC), nested lists kept."""
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def _cell(value: Any) -> str:
    """A value as one CSV cell (history as "time action by actor" lines)."""
    if value is None:
        return ""
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, list):
        parts = []
        for item in value:
            if isinstance(item, dict):
                text = f"{_cell(item.get('at'))} {item.get('action')} by {item.get('actor')}"
                if item.get("reason"):
                    text += f" ({item['reason']})"
                parts.append(text)
            else:
                parts.append(str(item))
        return "\n".join(parts) if value and isinstance(value[0], dict) else "; ".join(parts)
    return str(value)


def _csv_line(values: Sequence[str]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerow([safe_cell(v) for v in values])
    return buffer.getvalue()


def csv_lines(rows: Iterable[dict[str, Any]], header: Sequence[str]) -> Iterator[str]:
    """CSV text: a byte-order mark and the header, then one line per row, formula-safe."""
    yield BOM + _csv_line(list(header))
    for row in rows:
        yield _csv_line([_cell(row.get(name)) for name in header])


def json_chunks(rows: Iterable[dict[str, Any]], keys: Sequence[str]) -> Iterator[str]:
    """One JSON array, streamed: an object per line, keys in column order."""
    yield "["
    first = True
    for row in rows:
        item = {key: _plain(row.get(key)) for key in keys}
        yield ("\n" if first else ",\n") + json.dumps(item, ensure_ascii=False)
        first = False
    yield "\n]\n"
