"""Bulk CSV import for resellers (R15): template, upload, progress, failed rows."""

from __future__ import annotations

from typing import Any

from flask import Response, flash, jsonify, redirect, render_template, request, url_for
from flask.blueprints import BlueprintSetupState
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext
from flask_login import current_user
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from werkzeug.exceptions import RequestEntityTooLarge

from app.db import get_session
from app.i18n import number, translate
from app.models.imports import (
    COLUMNS,
    ENCODING_LABELS,
    MAX_IMPORT_BYTES,
    MAX_IMPORT_ROWS,
    REQUIRED_COLUMNS,
    TOO_LARGE,
    ImportJob,
    ImportRow,
    ImportStatus,
    RowStatus,
    stored_message,
)
from app.models.org import RESELLER_ROLES, Role
from app.security.permissions import actor
from app.services import imports
from app.services.import_csv import template_csv
from app.web.errors import MESSAGES
from app.web.helpers import attempt
from app.web.reseller.views import bp, reseller_only
from workers.dispatch import enqueue_import

# Failed and already-imported rows listed on the page; the download has every failed row.
SHOWN_ROWS = 200


class ImportForm(FlaskForm):
    """Upload a CSV file of acceptances."""

    file = FileField(
        _l("CSV file"),
        validators=[FileRequired(message=_l("Choose a CSV file to upload."))],
        description=_l(
            "UTF-8 (with or without BOM) or Korean Excel's CSV; comma, semicolon or tab "
            "separated; at most 5 MB and 10,000 rows."
        ),
        render_kw={"accept": ".csv,.txt,.tsv,text/csv", "data-max-bytes": MAX_IMPORT_BYTES},
    )


@bp.get("/imports")
@reseller_only
def imports_page() -> Any:
    """Past imports of the reseller, newest first, and the upload form."""
    return _imports_page(ImportForm(), 200)


def _imports_page(form: ImportForm, status: int) -> Any:
    db, user = get_session(), actor()
    return render_template(
        "reseller/imports.html",
        form=form,
        jobs=imports.list_jobs(db, actor=user),
        columns=COLUMNS,
        required=REQUIRED_COLUMNS,
        max_rows=MAX_IMPORT_ROWS,
    ), status


@bp.post("/imports")
@reseller_only
def upload_import() -> Any:
    """Store an uploaded file as a queued job; a worker imports its rows."""
    db, user = get_session(), actor()
    form = ImportForm()
    if form.validate_on_submit():
        upload = form.file.data
        content = upload.read(MAX_IMPORT_BYTES + 1)
        job = attempt(
            lambda: imports.create_job(
                db, actor=user, filename=upload.filename or "", content=content
            ),
            form=form,
            paths={"file": "file"},
        )
        if job is not None:
            enqueue_import(job.id)  # after the commit; the sweeper re-sends a lost message
            message = ngettext(
                "File received: %(num)s row is being imported.",
                "File received: %(num)s rows are being imported.",
                job.rows_total,
            )
            flash(message, "success")
            return redirect(url_for(".import_job", public_id=job.public_id))
    form.file.errors = [translate(message) for message in form.file.errors]
    return _imports_page(form, 422)


def _too_large_upload() -> Any:
    """A file over the size limit: say so on the upload form (the body was never read)."""
    message = translate(TOO_LARGE)
    form = ImportForm(formdata=None)  # the request's form is the part too large to read
    form.file.errors = [message]
    return _imports_page(form, 413)


def _chain_too_large(state: BlueprintSetupState) -> None:
    # The size limit trips before any view runs (CSRF protection reads the form first), so a
    # blueprint error handler answers; the evidence upload has one on this blueprint too. This
    # runs once the blueprint's handlers are on the app, so it wraps whichever is there, in
    # whatever order the modules were imported.
    handlers = state.app.error_handler_spec.setdefault(bp.name, {}).setdefault(413, {})
    earlier = handlers.get(RequestEntityTooLarge)

    def too_large(exc: RequestEntityTooLarge) -> Any:
        signed_in = current_user.is_authenticated and Role(current_user.role) in RESELLER_ROLES
        if signed_in and request.endpoint == "reseller.upload_import":
            return _too_large_upload()
        if earlier is not None:
            return earlier(exc)
        return render_template("errors/error.html", code=413, message=_(MESSAGES[413])), 413

    handlers[RequestEntityTooLarge] = too_large


bp.record_once(_chain_too_large)


@bp.get("/imports/template.csv")
@reseller_only
def import_template() -> Any:
    """The CSV template: the columns and one example row."""
    return Response(
        template_csv(),
        mimetype="text/csv",
        headers={"Content-Disposition": 'attachment; filename="acceptances-template.csv"'},
    )


@bp.get("/imports/<public_id>")
@reseller_only
def import_job(public_id: str) -> Any:
    """One import: its progress (updated live while it runs), and the rows not imported."""
    db, user = get_session(), actor()
    job = imports.get_job(db, user, public_id)
    failed = imports.rows_with_status(db, job, RowStatus.FAILED, limit=SHOWN_ROWS)
    duplicates = imports.rows_with_status(db, job, RowStatus.DUPLICATE, limit=SHOWN_ROWS)
    return render_template(
        "reseller/import_detail.html",
        job=job,
        progress=_progress(job),
        failed=[_shown(row) for row in failed],
        duplicates=duplicates,
        records=imports.record_ids(db, duplicates),
        notes=[translate(stored_message(note)) for note in job.errors],
        encoding=ENCODING_LABELS.get(job.encoding or "", job.encoding),
        delimiter=job.delimiter,
        shown_rows=SHOWN_ROWS,
    )


def _shown(row: ImportRow) -> dict[str, Any]:
    return {
        "line": row.line,
        "errors": [
            {"column": e.get("column") or "", "message": translate(stored_message(e))}
            for e in row.errors
        ],
    }


STATUS_LABELS = {
    ImportStatus.QUEUED: _l("Queued"),
    ImportStatus.RUNNING: _l("Importing"),
    ImportStatus.FINISHED: _l("Finished"),
    ImportStatus.FAILED: _l("Stopped"),
}


def _progress(job: ImportJob) -> dict[str, Any]:
    """The job's progress for the page and for its polling script."""
    if job.status == ImportStatus.QUEUED:
        text = _("Waiting for a worker to start…")
    else:
        text = _(
            "%(done)s of %(total)s rows processed",
            done=number(job.rows_done),
            total=number(job.rows_total),
        )
    return {
        "status": job.status,
        "label": str(STATUS_LABELS.get(ImportStatus(job.status), job.status)),
        "active": job.is_active,
        "total": job.rows_total,
        "done": job.rows_done,
        "created": job.rows_created,
        "duplicate": job.rows_duplicate,
        "failed": job.rows_failed,
        "percent": job.percent,
        "text": text,
    }


@bp.get("/imports/<public_id>/progress")
@reseller_only
def import_progress(public_id: str) -> Any:
    """The job's progress as JSON, polled by the page while the job runs."""
    job = imports.get_job(get_session(), actor(), public_id)
    response = jsonify(_progress(job))
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/imports/<public_id>/failed.csv")
@reseller_only
def import_failed_rows(public_id: str) -> Any:
    """The failed rows in the file's own columns plus `error`: correct them and upload again."""
    db = get_session()
    job = imports.get_job(db, actor(), public_id)
    body = "".join(imports.failed_rows_csv(db, job, render=translate))
    stamp = job.created_at.strftime("%Y%m%d-%H%M")
    return Response(
        body.encode("utf-8"),
        mimetype="text/csv",
        headers={
            "Content-Disposition": f'attachment; filename="import-{stamp}-failed-rows.csv"',
            "Cache-Control": "no-store",
        },
    )
