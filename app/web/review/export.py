"""Exports for audits: the provider's at /review/export, a reseller's own at /reseller/export.

GET shows the form (prefilled from the query string, so a list's "Export these" carries its
filters); POST validates it, writes the audit event, commits, then streams the file from a
read-only session of its own (the request's session may not hold SQLite's write lock while a
long file streams).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from flask import Response, render_template, request
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import RadioField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import ValidationError

from app.db import get_engine, get_session, new_session
from app.models import ConfirmationState, RecordStatus, User
from app.security.permissions import actor
from app.services import agreements, listing
from app.services import export as exporter
from app.services.errors import ValidationFailed
from app.services.search import as_tenant_id
from app.web import list_filters
from app.web.helpers import apply_field_errors
from app.web.review.views import bp, provider_only

MEDIA_TYPES = {
    exporter.ExportFormat.CSV: "text/csv; charset=utf-8",
    exporter.ExportFormat.JSON: "application/json",
}


def _valid_day(_form: FlaskForm, field: StringField) -> None:
    text = (field.data or "").strip()
    if text:
        try:
            datetime.strptime(text, "%Y-%m-%d")  # noqa: DTZ007  (a calendar day, no time)
        except ValueError as exc:
            raise ValidationError(_("Enter a date such as 2026-03-02.")) from exc


def _valid_tenant(_form: FlaskForm, field: StringField) -> None:
    text = (field.data or "").strip()
    if text and as_tenant_id(text) is None:
        raise ValidationError(_("Enter the customer's tenant ID (a GUID), or leave it empty."))


class ExportForm(FlaskForm):
    """What to export, in which format, narrowed by which filters."""

    kind = RadioField(
        _l("What"),
        choices=[
            SelectChoice(exporter.ExportKind.CONFIRMATIONS.value, _l("Confirmations (the ledger)")),
            SelectChoice(exporter.ExportKind.RECORDS.value, _l("Acceptance records with history")),
        ],
        default=exporter.ExportKind.CONFIRMATIONS.value,
    )
    format = RadioField(
        _l("Format"),
        choices=[
            SelectChoice(exporter.ExportFormat.CSV.value, _l("CSV (opens in Excel)")),
            SelectChoice(exporter.ExportFormat.JSON.value, _l("JSON (one array of objects)")),
        ],
        default=exporter.ExportFormat.CSV.value,
    )
    since = StringField(_l("From (day)"), validators=[_valid_day])
    until = StringField(_l("To (day, included)"), validators=[_valid_day])
    reseller = SelectField(_l("Reseller"), default="")
    tenant = StringField(_l("Customer tenant ID"), validators=[_valid_tenant])
    status = SelectField(_l("Status"), default="")
    version = SelectField(_l("Agreement version"), default="")

    def validate_until(self, field: StringField) -> None:
        """The end may not come before the start."""
        if self.since.data and field.data and field.data.strip() < self.since.data.strip():
            raise ValidationError(_("The end date must not be before the start date."))


def _form(user: User) -> ExportForm:
    db = get_session()
    form = ExportForm() if request.method == "POST" else ExportForm(formdata=None, data=_prefill())
    form.reseller.choices = [SelectChoice("", _("Any"))]
    if user.is_provider:
        form.reseller.choices += [SelectChoice(str(o.id), o.name) for o in listing.resellers(db)]
    form.status.choices = [
        SelectChoice("", _("Any")),
        *(SelectChoice(s.value, f"{_('Confirmation')}: {_(s.value)}") for s in ConfirmationState),
        *(SelectChoice(s.value, f"{_('Record')}: {_(s.label)}") for s in RecordStatus),
    ]
    form.version.choices = [
        SelectChoice("", _("Any")),
        *(SelectChoice(t.template_id, t.template_id) for t in agreements.all_templates(db)),
    ]
    return form


def _prefill() -> dict[str, Any]:
    """The form's values from a list's query string (its filter names)."""
    args = request.args
    values = {
        "kind": args.get("kind") or "",
        "format": args.get("format") or "",
        "since": args.get("since", ""),
        "until": args.get("until", ""),
        "reseller": args.get("reseller", ""),
        "tenant": args.get("tenant", ""),
        "status": args.get("status", ""),
        "version": args.get("version", ""),
    }
    if values["status"] and not values["kind"]:
        # A record list's status filter: export those records.
        confirmation_states = {s.value for s in ConfirmationState}
        if values["status"] not in confirmation_states:
            values["kind"] = exporter.ExportKind.RECORDS.value
    return {key: value for key, value in values.items() if value}


def _filters(form: ExportForm, user: User) -> exporter.ExportFilter:
    since = (form.since.data or "").strip()
    until = (form.until.data or "").strip()
    tenant = (form.tenant.data or "").strip()
    return exporter.ExportFilter(
        since=_utc_day(since) if since else None,
        until=_utc_day(until, next_day=True) if until else None,
        reseller_id=int(form.reseller.data) if user.is_provider and form.reseller.data else None,
        tenant_id=as_tenant_id(tenant) if tenant else None,
        statuses=(form.status.data,) if form.status.data else (),
        template_id=form.version.data or None,
    )


def _utc_day(text: str, *, next_day: bool = False) -> datetime:
    day = datetime.strptime(text, "%Y-%m-%d").date()  # noqa: DTZ007  (validated day)
    if next_day:
        day += timedelta(days=1)
    return list_filters.day_start(day).astimezone(UTC)


def render_export(area: str) -> Any:
    """The export form, or (POST) the file; `area` names the blueprint of the form's action."""
    user = actor()
    form = _form(user)
    if request.method == "POST":
        if form.validate_on_submit():
            download = _download(form, user)
            if download is not None:
                return download
        return render_template("review/export.html", form=form, area=area), 422
    return render_template("review/export.html", form=form, area=area)


def _download(form: ExportForm, user: User) -> Response | None:
    db = get_session()
    kind = exporter.ExportKind(form.kind.data)
    fmt = exporter.ExportFormat(form.format.data)
    filters = _filters(form, user)
    try:
        exporter.record_export(db, actor=user, kind=kind, fmt=fmt, filters=filters)
        db.commit()
    except ValidationFailed as exc:
        db.rollback()
        apply_field_errors(form, exc.errors, {"status": "status", "until": "until"})
        return None
    reader = new_session(get_engine(), read_only=True)
    chunks = exporter.stream(reader, actor=user, kind=kind, fmt=fmt, filters=filters)

    def generate() -> Any:
        try:
            yield from chunks
        finally:
            reader.close()

    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M")
    return Response(
        generate(),
        content_type=MEDIA_TYPES[fmt],
        headers={
            "Content-Disposition": f'attachment; filename="{kind.value}-{stamp}.{fmt.value}"',
            "Cache-Control": "no-store",
        },
    )


@bp.route("/export", methods=["GET", "POST"])
@provider_only
def export_page() -> Any:
    """Confirmations or records with history of every reseller, as CSV or JSON."""
    return render_export("review")
