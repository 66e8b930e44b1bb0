"""Reading the filters of the lists (queue, records, customers) from the query string, and the
keyset cursors of lists ordered by name.

Every filter is optional; a value that cannot be read is dropped with a message saying why
(flashed), so a list always answers.

Also what a list's rows share, worked out once a page rather than once a row: status labels,
the detail link's prefix, the viewer's clock.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from functools import partial
from typing import Any
from zoneinfo import ZoneInfo

from flask import flash, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from werkzeug.datastructures import MultiDict

from app.i18n import local_time, select_timezone
from app.models import RecordStatus
from app.services.listing import CustomerFilter, RecordFilter
from app.services.search import as_tenant_id


@dataclass
class ListArgs:
    """The filters of a record list as read, for the filter form to show them again."""

    status: str = ""
    reseller: int | None = None
    customer: int | None = None
    tenant: str = ""
    since: str = ""
    until: str = ""
    version: str = ""
    flagged: bool = False
    errors: list[str] = field(default_factory=list)


def viewer_zone() -> ZoneInfo:
    """The viewer's time zone (dates in filters are days of the viewer's calendar)."""
    return ZoneInfo(select_timezone())


def day_start(value: date) -> datetime:
    """Midnight starting `value` in the viewer's zone."""
    return datetime.combine(value, time.min, tzinfo=viewer_zone())


def read_day(text: str, label: str, errors: list[str]) -> date | None:
    """A YYYY-MM-DD day, or None (with a message when something unreadable was given)."""
    text = text.strip()
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        errors.append(_("%(field)s must be a date such as 2026-03-02.", field=label))
        return None


def record_filter(
    args: MultiDict[str, str], *, default_status: str = "", provider: bool
) -> tuple[RecordFilter, ListArgs]:
    """The record list's filters from the query string; problems are flashed."""
    shown = ListArgs(
        status=args.get("status", default_status),
        reseller=args.get("reseller", type=int) if provider else None,
        customer=args.get("customer", type=int),
        tenant=(args.get("tenant") or "").strip(),
        since=(args.get("since") or "").strip(),
        until=(args.get("until") or "").strip(),
        version=(args.get("version") or "").strip(),
        flagged=args.get("flagged") == "1",
    )
    statuses = (shown.status,) if shown.status in RecordStatus.__members__.values() else ()
    tenant_id = None
    if shown.tenant:
        tenant_id = as_tenant_id(shown.tenant)
        if tenant_id is None:
            shown.errors.append(_("The tenant filter must be a tenant ID (GUID)."))
    since = read_day(shown.since, _("From"), shown.errors)
    until = read_day(shown.until, _("To"), shown.errors)
    if since and until and until < since:
        shown.errors.append(_("The end date must not be before the start date."))
        until = None
    for message in shown.errors:
        flash(message, "error")
    filters = RecordFilter(
        statuses=statuses,
        reseller_id=shown.reseller,
        customer_id=shown.customer,
        tenant_id=tenant_id,
        flagged_only=shown.flagged,
        since=day_start(since) if since else None,
        # The whole of the last day: before the next day's midnight.
        until=day_start(until + timedelta(days=1)) if until else None,
        template_id=shown.version or None,
    )
    return filters, shown


def customer_filter(args: MultiDict[str, str]) -> CustomerFilter:
    """The customer list's filters from the query string."""
    return CustomerFilter(
        text=(args.get("q") or "").strip() or None,
        outdated_only=args.get("outdated") == "1",
        withdrawn_only=args.get("withdrawn") == "1",
    )


def encode_name_cursor(name: str, row_id: int) -> str:
    """An opaque keyset cursor for (name, id)."""
    raw = json.dumps([name, row_id]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_name_cursor(cursor: str | None) -> tuple[str, int] | None:
    """The (name, id) in a cursor, or None when absent or malformed."""
    if not cursor:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        name, row_id = json.loads(raw)
    except (ValueError, TypeError):
        return None
    if not isinstance(name, str) or not isinstance(row_id, int) or isinstance(row_id, bool):
        return None
    return name, row_id


def query_args() -> dict[str, str]:
    """The current query string without the page cursor (to carry filters into other links)."""
    args = request.args.to_dict()
    args.pop("after", None)
    return args


# The catalogues do not change while a process runs: each language's labels are made once.
_status_labels: dict[str, dict[str, str]] = {}


def status_labels() -> dict[str, str]:
    """Each status's label in the request's language, by value (a list looks labels up here,
    not through gettext once per row and option)."""
    language = str(get_locale() or "en")
    labels = _status_labels.get(language)
    if labels is None:
        labels = {status.value: str(_(status.label)) for status in RecordStatus}
        _status_labels[language] = labels
    return labels


def link_prefix(endpoint: str, key: str) -> str:
    """The URL of `endpoint` without the value of its last part `key`, for rows to append their
    id to: url_for once per page, not once per row (ids are hex: nothing to quote)."""
    marker = "0"
    values: dict[str, Any] = {key: marker}
    url = url_for(endpoint, **values)
    if not url.endswith("/" + marker):
        raise ValueError(f"{endpoint}'s URL does not end with <{key}>")
    return url[: -len(marker)]


def page_clock() -> Callable[[datetime | None], str]:
    """The `time` filter for a page's rows (app.i18n.local_time): the viewer's zone is looked up
    once for the page, not once per row."""
    return partial(local_time, zone=select_timezone())
