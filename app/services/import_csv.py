"""Reading and writing a CSV import's files (R15): encoding, delimiter, header, rows.

The columns and limits are in `app/models/imports.py`; this module turns an upload into rows in
the API's input shape, and gives the template and the failed rows back in a spreadsheet-safe way.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from typing import Any

from app.markers import M_, N_, Message
from app.models.imports import (
    COLUMN_PATHS,
    COLUMNS,
    DELIMITERS,
    ERROR_COLUMN,
    EXAMPLE_ROW,
    MAX_IMPORT_BYTES,
    MAX_IMPORT_ROWS,
    REQUIRED_COLUMNS,
    TOO_LARGE,
)
from app.services.errors import ValidationFailed

# Other spellings people (and other systems) give these columns, after normalising.
_ALIASES = {
    "tenant": "tenant_id",
    "customer_tenant_id": "tenant_id",
    "microsoft_tenant_id": "tenant_id",
    "company": "company_name",
    "customer_name": "company_name",
    "primary_domain": "domain",
    "country_code": "country",
    "agreement_language": "language",
    "date": "date_agreed",
    "accepted_on": "date_agreed",
    "date_accepted": "date_agreed",
    "contact_first_name": "first_name",
    "firstname": "first_name",
    "contact_last_name": "last_name",
    "lastname": "last_name",
    "email_address": "email",
    "contact_email": "email",
    "phone": "phone_number",
    "phonenumber": "phone_number",
    "contact_phone": "phone_number",
    "contact_phone_number": "phone_number",
}


EMPTY = N_("The file is empty. Download the template and fill it in.")

# A cell a spreadsheet would run as a formula; phone numbers (+82 ...) and negative numbers
# stay as they are, so the failed rows go back into the import unchanged.
_FORMULA = re.compile(r"^(?:[=@\t\r]|[+-](?![\d\s().+-]*$))")


def column_key(name: str) -> str:
    """A header cell as a column name: case, spaces, dashes and camelCase do not matter."""
    spaced = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name.strip().lstrip("\ufeff"))
    key = re.sub(r"[^0-9a-z]+", "_", spaced.lower()).strip("_")
    return _ALIASES.get(key, key)


_YEAR_FIRST = re.compile(r"(\d{4})\s*[./-]\s*(\d{1,2})\s*[./-]\s*(\d{1,2})\.?")


def _date_cell(value: str) -> str:
    # Spreadsheets rewrite dates in the user's format; the year-first ones are unambiguous
    # (2026/3/2, 2026.03.02, the Korean "2026. 3. 2."): read them as YYYY-MM-DD.
    match = _YEAR_FIRST.fullmatch(value.strip())
    if match is None:
        return value
    year, month, day = match.groups()
    return f"{year}-{int(month):02d}-{int(day):02d}"


def row_input(cells: dict[str, str]) -> dict[str, Any]:
    """One row's cells (by column name) in the API's input shape, for `parse_submission`."""

    def get(name: str) -> str:
        # Empty cells go through as "": the input model gives its one message for each field.
        return cells.get(name, "")

    return {
        "customer": {
            "tenantId": get("tenant_id"),
            "companyName": get("company_name"),
            "domain": get("domain"),
            "cloud": get("cloud"),
            "country": get("country"),
        },
        "language": get("language"),
        "agreementType": get("agreement_type"),
        "templateId": get("template_id"),
        "dateAgreed": _date_cell(get("date_agreed")),
        "contact": {
            "firstName": get("first_name"),
            "lastName": get("last_name"),
            "email": get("email"),
            "phoneNumber": get("phone_number"),
        },
    }


def column_for_path(path: str) -> str:
    """The CSV column of an input path (e.g. "contact.email" -> "email"); "" if none."""
    for column, column_path in COLUMN_PATHS.items():
        if path == column_path or path.startswith(column_path + "."):
            return column
    return ""


# --- reading a file ------------------------------------------------------------------------------


@dataclass
class ParsedFile:
    """An upload as read: its header, data rows (line, cells) and what was detected."""

    columns: list[str]
    keys: list[str]
    rows: list[tuple[int, list[str]]]
    encoding: str
    delimiter: str
    notes: list[Message] = field(default_factory=list)


def _refuse(message: str) -> Exception:
    return ValidationFailed({"file": [message]})


def decode(content: bytes) -> tuple[str, str]:
    """The file's text and its encoding: UTF-8 with or without BOM, UTF-16, else CP949."""
    if content.startswith(b"\xef\xbb\xbf"):
        candidates = ["utf-8-sig"]
    elif content.startswith((b"\xff\xfe", b"\xfe\xff")):
        candidates = ["utf-16"]  # Excel's "Unicode text"
    else:
        # CP949 (a superset of EUC-KR) is what Korean Excel writes for "CSV (comma delimited)".
        candidates = ["utf-8", "cp949"]
    for encoding in candidates:
        try:
            return content.decode(encoding), encoding
        except UnicodeDecodeError:
            continue
    raise _refuse(
        N_(
            "The file's characters could not be read. In Excel choose Save As > "
            "“CSV UTF-8 (Comma delimited)” and upload that file."
        )
    )


def detect_delimiter(text: str) -> str:
    """Comma, semicolon or tab: whichever separates the header line's names most often."""
    header = text.split("\n", 1)[0]
    counts = {d: header.count(d) for d in DELIMITERS}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else ","


def _unquote(value: str) -> str:
    # The failed-rows download protects formula-like cells with a leading apostrophe; take it
    # off again so a corrected file reads exactly as the original did.
    if value.startswith("'") and _FORMULA.match(value[1:]):
        return value[1:]
    return value


def parse_csv(content: bytes) -> ParsedFile:
    """Read an upload: encoding, delimiter, header and data rows (blank lines skipped).

    Raises `app.services.errors.ValidationFailed` ({"file": [message]}) when the file cannot be
    imported at all; nothing about single rows is decided here.
    """
    if len(content) > MAX_IMPORT_BYTES:
        raise _refuse(TOO_LARGE)
    if not content.strip():
        raise _refuse(EMPTY)
    if content.startswith((b"PK\x03\x04", b"\xd0\xcf\x11\xe0")):
        raise _refuse(
            N_(
                "This is an Excel workbook, not a CSV file. In Excel choose Save As > "
                "“CSV UTF-8 (Comma delimited)” and upload that file."
            )
        )
    text, encoding = decode(content)
    if "\x00" in text:
        raise _refuse(N_("This is not a CSV file (it contains binary data). Save it as CSV."))
    delimiter = detect_delimiter(text)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        header = next(reader, None)
        while header is not None and not any(cell.strip() for cell in header):
            header = next(reader, None)  # blank lines above the header
        if header is None:
            raise _refuse(EMPTY)
        columns = [cell.strip().lstrip("\ufeff") for cell in header]
        keys = _check_header(columns)
        rows: list[tuple[int, list[str]]] = []
        last_line = reader.line_num
        for cells in reader:
            line, last_line = last_line + 1, reader.line_num
            if not any(cell.strip() for cell in cells):
                continue  # blank lines and spreadsheets' trailing ";;;;" lines
            rows.append((line, [_unquote(cell) for cell in cells]))
            if len(rows) > MAX_IMPORT_ROWS:
                break
    except csv.Error as exc:
        raise _refuse(
            M_("Line %(line)s cannot be read as CSV (%(why)s).", line=reader.line_num, why=str(exc))
        ) from None
    if not rows:
        raise _refuse(N_("The file has a header but no rows under it."))
    if len(rows) > MAX_IMPORT_ROWS:
        raise _refuse(
            M_(
                "The file has more than %(max)s rows: at most %(max)s can be imported at once. "
                "Split it into several files; nothing was imported.",
                max=f"{MAX_IMPORT_ROWS:,}",
            )
        )
    unused = [c for c, k in zip(columns, keys, strict=True) if k not in COLUMNS and c]
    unused = [c for c in unused if column_key(c) != ERROR_COLUMN]
    notes = [M_("Columns not used: %(names)s.", names=", ".join(unused))] if unused else []
    return ParsedFile(columns, keys, rows, encoding, delimiter, notes)


def _check_header(columns: list[str]) -> list[str]:
    keys = [column_key(c) for c in columns]
    if not any(k in COLUMNS for k in keys):
        raise _refuse(
            N_(
                "The first line must name the columns (tenant_id, company_name, ...). "
                "Download the template and keep its first line."
            )
        )
    repeated = sorted({k for k in keys if k in COLUMNS and keys.count(k) > 1})
    if repeated:
        raise _refuse(
            M_("These columns appear more than once: %(names)s.", names=", ".join(repeated))
        )
    missing = [k for k in REQUIRED_COLUMNS if k not in keys]
    if missing:
        raise _refuse(
            M_(
                "Required columns are missing: %(names)s. "
                "The template has every column; keep its first line.",
                names=", ".join(missing),
            )
        )
    return keys


def template_csv() -> bytes:
    """The CSV template: the header and one example row, UTF-8 with a BOM for Excel."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    writer.writerow([EXAMPLE_ROW[c] for c in COLUMNS])
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


def safe_cell(value: str) -> str:
    """A cell a spreadsheet shows as text, never runs as a formula."""
    return "'" + value if _FORMULA.match(value) else value
