"""Personal data never reaches the logs: every log record is masked as it is created.

Emails and phone numbers are replaced in the message and its arguments, whichever logger or
handler (Flask, Celery, httpx, gunicorn) writes it. Ids (record, tenant, request) stay, so a
log line can still be traced.
"""

from __future__ import annotations

import logging
import re
from typing import Any

EMAIL = re.compile(r"[\w.!#$%&'*+/=?^`{|}~-]+@[\w-]+(?:\.[\w-]+)+", re.UNICODE)
# A + or a digit, then 8 or more digits possibly broken by spaces, dots, dashes or brackets:
# phone numbers, but not GUIDs (hex groups of 4-12 with letters), times or short counts.
PHONE = re.compile(r"(?<![\w-])\+?\d(?:[\s().-]?\d){7,14}(?![\w-])")
MASK_EMAIL = "[email]"
MASK_PHONE = "[phone]"

_installed = False


DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def _phone(match: re.Match[str]) -> str:
    # An ISO date followed by an hour has a phone number's shape; dates are not personal.
    return match.group(0) if DATE.match(match.group(0)) else MASK_PHONE


def redact(text: str) -> str:
    """`text` with emails and phone numbers masked."""
    return PHONE.sub(_phone, EMAIL.sub(MASK_EMAIL, text))


def install_redaction() -> None:
    """Wrap the log record factory once per process so every record is masked."""
    global _installed
    if _installed:
        return
    previous = logging.getLogRecordFactory()

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        try:
            message = record.getMessage()
        except Exception:  # a malformed call: let the handler report it as usual
            return record
        masked = redact(message)
        if masked != message or record.args:
            record.msg, record.args = masked, None
        return record

    logging.setLogRecordFactory(factory)
    _installed = True
