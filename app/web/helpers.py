"""Helpers shared by the web blueprints: template filters, pagination, form errors."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

from flask import Flask, flash, request, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_wtf import FlaskForm
from sqlalchemy.orm.exc import StaleDataError

from app.db import get_session
from app.i18n import local_time, number, translate
from app.models import Flag, RecordStatus
from app.models.customer import Cloud
from app.services.errors import DomainError, NotFound, PermissionDenied, ValidationFailed
from app.web.events import event_label

T = TypeVar("T")

STATUS_TONES = {
    RecordStatus.SUBMITTED: "info",
    RecordStatus.RETURNED: "warn",
    RecordStatus.WITHDRAWN: "muted",
    RecordStatus.REJECTED: "bad",
    RecordStatus.APPROVED: "info",
    RecordStatus.FORWARDING: "info",
    RecordStatus.AWAITING_CUSTOMER: "warn",
    RecordStatus.EXPIRED: "warn",
    RecordStatus.CONFIRMED: "good",
    RecordStatus.DUPLICATE: "good",
    RecordStatus.FAILED: "bad",
    RecordStatus.REVOKED: "muted",
}


def format_time(value: datetime | None) -> str:
    """A stored UTC time in the viewer's time zone, as 'YYYY-MM-DD HH:MM KST'."""
    return local_time(value)


def age(since: datetime | None, now: datetime | None = None) -> str:
    """How long ago `since` was, in the largest whole unit: "3 days", "5 hours", "1 minute".

    In the request's language; pages say "ago" around it (`_("%(age)s ago", age=...)`).
    """
    if since is None:
        return "—"
    seconds = max(0.0, ((now or datetime.now(UTC)) - since).total_seconds())
    if seconds >= 86400:
        return str(ngettext("%(num)d day", "%(num)d days", int(seconds // 86400)))
    if seconds >= 3600:
        return str(ngettext("%(num)d hour", "%(num)d hours", int(seconds // 3600)))
    if seconds >= 60:
        return str(ngettext("%(num)d minute", "%(num)d minutes", int(seconds // 60)))
    return str(_("less than a minute"))


def mask_email(email: str | None) -> str:
    """An email with most of the local part hidden, for lists."""
    if not email or "@" not in email:
        return email or ""
    local, domain = email.rsplit("@", 1)
    return f"{local[:1]}{'•' * min(max(len(local) - 1, 1), 6)}@{domain}"


def encode_cursor(created_at: datetime, row_id: int) -> str:
    """An opaque keyset cursor for (created_at, id)."""
    raw = json.dumps([created_at.isoformat(), row_id]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> tuple[datetime, int] | None:
    """The (created_at, id) in a cursor, or None when absent or malformed."""
    # Our cursors are short; a long one is made up (and could nest JSON past the recursion limit).
    if not cursor or len(cursor) > 200:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        created, row_id = json.loads(raw)
        moment = datetime.fromisoformat(created)
        # An id past a signed 64-bit integer would make the database driver fail: made up too.
        if moment.tzinfo is None or not isinstance(row_id, int) or not 0 <= row_id < 2**63:
            return None
        return moment, row_id
    except (ValueError, TypeError, RecursionError):
        return None


def apply_field_errors(
    form: FlaskForm, errors: dict[str, list[str]], paths: dict[str, str]
) -> None:
    """Put service field errors on the form's fields (paths: API path -> form field name)."""
    for path, messages in errors.items():
        name = paths.get(path)
        field = getattr(form, name, None) if name else None
        # Service messages are English (the API's language); pages show them translated.
        shown = [translate(message) for message in messages]
        if field is not None:
            field.errors = [*list(field.errors or []), *shown]
        else:
            for message in shown:
                flash(message, "error")


def attempt(
    action: Callable[[], T],
    *,
    form: FlaskForm | None = None,
    paths: dict[str, str] | None = None,
) -> T | None:
    """Run a service call and commit; on a refusal roll back and show why (field or flash).

    NotFound and PermissionDenied propagate to the error handlers (404 / 403 pages).
    """
    db = get_session()
    try:
        result = action()
        db.commit()
    except ValidationFailed as exc:
        db.rollback()
        if form is not None:
            apply_field_errors(form, exc.errors, paths or {})
        else:
            for messages in exc.errors.values():
                for message in messages:
                    flash(translate(message), "error")
        return None
    except (NotFound, PermissionDenied):
        db.rollback()
        raise
    except StaleDataError:
        db.rollback()
        flash(
            _("Someone changed this record while you were working on it: see its state now."),
            "error",
        )
        return None
    except DomainError as exc:
        db.rollback()
        flash(translate(exc.message), "error")
        return None
    return result


def page_url(cursor: str) -> str:
    """The current page's URL with the same filters and the given keyset cursor."""
    args = request.args.to_dict()
    args["after"] = cursor
    values: dict[str, Any] = {**(request.view_args or {}), **args}
    return url_for(request.endpoint or "auth.home", **values)


def init_templates(app: Flask) -> None:
    """Register the filters and globals."""
    app.add_template_filter(format_time, "time")
    app.add_template_filter(mask_email, "mask_email")
    app.add_template_filter(age, "age")
    app.add_template_filter(number, "number")

    # Globals (not a context processor) so imported macros see them too.
    app.jinja_env.globals.update(
        RecordStatus=RecordStatus,
        STATUS_TONES=STATUS_TONES,
        Flag=Flag,
        Cloud=Cloud,
        page_url=page_url,
        event_label=event_label,
    )
