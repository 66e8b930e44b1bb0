"""Evidence files on the reseller's side (R3): attach the signed acceptance, open it, remove a
wrong one; and the pieces both record pages share (the panel's data, the download answer)."""

from __future__ import annotations

import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from flask import Response, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from sqlmodel import Session
from werkzeug.exceptions import RequestEntityTooLarge

from app.db import get_session
from app.i18n import translate
from app.models import AcceptanceRecord, EvidenceFile, User
from app.security.permissions import actor
from app.security.scoping import get_record
from app.services import evidence as evidence_service
from app.services.listing import users_by_id
from app.web.errors import MESSAGES
from app.web.helpers import attempt
from app.web.reseller.forms import ActionForm
from app.web.reseller.views import bp, reseller_only

UPLOAD_ENDPOINT = "reseller.attach_evidence"
# A download is data, never a page: nothing in it may run, load or be framed.
DOWNLOAD_CSP = "default-src 'none'; sandbox"
TYPE_LABELS = {
    evidence_service.PDF: "PDF",
    evidence_service.PNG: "PNG",
    evidence_service.JPEG: "JPEG",
}


class EvidenceForm(FlaskForm):
    """Attach one file; what it may be is the service's rule (checked on its bytes)."""

    file = FileField()


@dataclass
class EvidencePanel:
    """What templates/shared/evidence_panel.html shows for one record and viewer."""

    record: AcceptanceRecord
    files: list[EvidenceFile]
    uploaders: dict[int, str]
    download_endpoint: str
    removable: set[str] = field(default_factory=set)
    upload_form: EvidenceForm | None = None
    remove_form: ActionForm | None = None
    closed: bool = False
    accept: str = evidence_service.ACCEPT
    max_megabytes: int = evidence_service.MAX_MEGABYTES
    max_files: int = evidence_service.MAX_FILES_PER_RECORD

    @staticmethod
    def size(value: int) -> str:
        """A file size for people."""
        return evidence_service.size_label(value)

    @staticmethod
    def type_label(content_type: str) -> str:
        """PDF, PNG or JPEG."""
        return TYPE_LABELS.get(content_type, content_type)


def panel_for(
    session: Session, viewer: User, record: AcceptanceRecord, *, download_endpoint: str
) -> EvidencePanel:
    """The panel of a record the viewer already reached through the scoped getter."""
    files = evidence_service.files_for(session, record)
    uploaders = {
        user_id: user.email
        for user_id, user in users_by_id(session, {f.uploaded_by_id for f in files}).items()
    }
    panel = EvidencePanel(
        record=record,
        files=files,
        uploaders=uploaders,
        download_endpoint=download_endpoint,
        closed=evidence_service.closed_reason(record) is not None,
    )
    if not viewer.is_provider:
        panel.removable = {
            f.public_id for f in files if evidence_service.may_remove(viewer, record, f)
        }
        panel.remove_form = ActionForm() if panel.removable else None
        if evidence_service.may_attach(viewer, record):
            panel.upload_form = EvidenceForm()
    return panel


@bp.context_processor
def _evidence_panel() -> dict[str, Callable[[AcceptanceRecord], EvidencePanel]]:
    # The record page's template asks for its panel (`evidence_panel(record)`), so the page's
    # own view stays as it is.
    def build(record: AcceptanceRecord) -> EvidencePanel:
        return panel_for(
            get_session(), actor(), record, download_endpoint="reseller.download_evidence"
        )

    return {"evidence_panel": build}


def _ascii_name(name: str) -> str:
    """The download name for clients that do not read RFC 6266's UTF-8 form."""
    stem, dot, ext = name.rpartition(".")
    simple = unicodedata.normalize("NFKD", stem).encode("ascii", "ignore").decode("ascii")
    simple = "".join(ch for ch in simple if ch.isalnum() or ch in " -_()").strip()
    if not any(ch.isalnum() for ch in simple):
        simple = "evidence"
    return f"{simple}{dot}{ext}"


def download_response(evidence: EvidenceFile) -> Response:
    """A file's bytes as a download: its checked type, never rendered, never cached."""
    content_type = (
        evidence.content_type
        if evidence.content_type in evidence_service.ALLOWED_TYPES
        else "application/octet-stream"
    )
    response = Response(evidence.content, mimetype=content_type)
    simple = _ascii_name(evidence.filename)
    response.headers.set(
        "Content-Disposition",
        "attachment",
        filename=simple,
        **{"filename*": "UTF-8''" + quote(evidence.filename, safe="")},
    )
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = DOWNLOAD_CSP
    response.headers["Cache-Control"] = "private, no-store"
    return response


@bp.errorhandler(RequestEntityTooLarge)
def _too_large(_exc: RequestEntityTooLarge) -> Any:
    # The request is refused before any view runs (MAX_CONTENT_LENGTH): say why in the
    # evidence form's terms, with the way back to the record.
    if request.endpoint == UPLOAD_ENDPOINT:
        message = translate(evidence_service.too_large_message())
    else:
        message = _(MESSAGES[413])
    return render_template("errors/error.html", code=413, message=message), 413


@bp.post("/acceptances/<public_id>/evidence")
@reseller_only
def attach_evidence(public_id: str) -> Any:
    """Attach a file (the customer's signed acceptance) to one of the reseller's records."""
    db, user = get_session(), actor()
    form = EvidenceForm()
    if not form.validate_on_submit():
        abort(400)
    record = get_record(db, user, public_id, for_update=True)
    upload = form.file.data
    back = redirect(url_for(".acceptance", public_id=public_id, _anchor="evidence"))
    if upload is None or not upload.filename:
        flash(_("Choose a file to attach."), "error")
        return back
    # One byte past the limit is enough to know it is too large.
    content = upload.stream.read(evidence_service.MAX_BYTES + 1)
    done = attempt(
        lambda: evidence_service.attach(
            db, actor=user, record=record, filename=upload.filename, content=content
        )
    )
    if done is not None:
        flash(_("Attached %(name)s.", name=done.filename), "success")
    return back


@bp.get("/acceptances/<public_id>/evidence/<file_id>")
@reseller_only
def download_evidence(public_id: str, file_id: str) -> Any:
    """Download a file of one of the reseller's records."""
    db, user = get_session(), actor()
    record = get_record(db, user, public_id)
    return download_response(evidence_service.get_file(db, record, file_id))


@bp.post("/acceptances/<public_id>/evidence/<file_id>/remove")
@reseller_only
def remove_evidence(public_id: str, file_id: str) -> Any:
    """Remove a file attached by mistake, while the provider has not decided on the record."""
    db, user = get_session(), actor()
    if not ActionForm().validate_on_submit():
        abort(400)
    record = get_record(db, user, public_id, for_update=True)
    evidence = evidence_service.get_file(db, record, file_id)
    name = evidence.filename
    done = attempt(
        lambda: evidence_service.remove(db, actor=user, record=record, evidence=evidence)
    )
    if done is not None:
        flash(_("Removed %(name)s.", name=name), "success")
    return redirect(url_for(".acceptance", public_id=public_id, _anchor="evidence"))
