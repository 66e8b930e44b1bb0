"""Review views: validate shape, call one service, commit, enqueue after the commit."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from app.db import get_session
from app.i18n import translate
from app.models import Confirmation, RecordStatus
from app.models.org import PROVIDER_ROLES
from app.security.permissions import actor, roles_required
from app.security.scoping import get_customer, get_record
from app.services import listing, monitor, record_details, review, timeline, transact, waiting
from app.services.customers import resellers_of
from app.services.ledger import record_withdrawal, supersede
from app.web import list_filters
from app.web.handover import handover
from app.web.helpers import attempt, decode_cursor, encode_cursor
from app.web.review.forms import ActionForm, ReasonForm
from workers.dispatch import enqueue_forwarding

bp = Blueprint("review", __name__)
provider_only = roles_required(*PROVIDER_ROLES)


@bp.get("/")
@provider_only
def queue() -> Any:
    """Records to review, oldest first, filtered by status, reseller, customer, dates, version
    and flags; keyset pages. Two statements a page (the signed-in user, the page with its
    names); no counts: the dashboard counts each status and links here."""
    db, user = get_session(), actor()
    filters, shown = list_filters.record_filter(
        request.args, default_status=RecordStatus.SUBMITTED.value, provider=True
    )
    page = listing.queue_page(
        db, actor=user, filters=filters, after=decode_cursor(request.args.get("after"))
    )
    return render_template(
        "review/queue.html",
        page=page,
        filters=filters,
        shown=shown,
        status=shown.status,
        choices=listing.filter_choices(db),
        labels=list_filters.status_labels(),
        local_time=list_filters.page_clock(),
        detail_prefix=list_filters.link_prefix(".acceptance", "public_id"),
        next_cursor=encode_cursor(*page.next_after) if page.next_after else None,
        filter_args=list_filters.query_args(),
        action_form=ActionForm(),
    )


@bp.get("/acceptances/<public_id>")
@provider_only
def acceptance(public_id: str) -> Any:
    """A record beside the customer's other submissions, with its history and the decisions."""
    db, user = get_session(), actor()
    record = get_record(db, user, public_id)
    customer = get_customer(db, user, record.customer_id)
    others = record_details.other_submissions(db, actor=user, record=record)
    everyone = [record, *others]
    return render_template(
        "review/acceptance_detail.html",
        record=record,
        customer=customer,
        others=others,
        orgs=listing.organizations_by_id(db, {r.reseller_id for r in everyone}),
        users=listing.users_by_id(
            db,
            {r.submitted_by_id for r in everyone}
            | {r.approved_by_id for r in everyone if r.approved_by_id},
        ),
        confirmations=record_details.confirmations_for(db, record.customer_id),
        events=record_details.history(db, record, viewer=user),
        handover=handover(waiting.acceptance_link(db, record, customer)),
        action_form=ActionForm(),
        reason_form=ReasonForm(),
    )


def _decide(public_id: str, decide: Any, message: Any, *, enqueue: bool = False) -> Any:
    db, user = get_session(), actor()
    record = get_record(db, user, public_id, for_update=True)
    done = attempt(lambda: decide(db, user, record))
    if done is not None:
        if enqueue:
            enqueue_forwarding([done.id])  # after the commit, never before
        flash(str(message), "success")
    return redirect(url_for(".acceptance", public_id=public_id))


@bp.post("/acceptances/<public_id>/approve")
@provider_only
def approve(public_id: str) -> Any:
    """Approve for forwarding to Partner Center."""
    if not ActionForm().validate_on_submit():
        abort(400)
    return _decide(
        public_id,
        lambda db, user, record: review.approve(db, actor=user, record=record),
        _l("Approved. It is being sent to Partner Center."),
        enqueue=True,
    )


@bp.post("/acceptances/<public_id>/retry")
@provider_only
def retry(public_id: str) -> Any:
    """Send a failed record again."""
    if not ActionForm().validate_on_submit():
        abort(400)
    return _decide(
        public_id,
        lambda db, user, record: review.retry(db, actor=user, record=record),
        _l("Sent again."),
        enqueue=True,
    )


@bp.post("/acceptances/<public_id>/reject")
@provider_only
def reject(public_id: str) -> Any:
    """Refuse the record for good, with a reason."""
    form = ReasonForm()
    if not form.validate_on_submit():
        abort(400)
    return _decide(
        public_id,
        lambda db, user, record: review.reject(
            db, actor=user, record=record, reason=form.reason.data
        ),
        _l("Rejected. The reseller sees your reason."),
    )


@bp.post("/acceptances/<public_id>/return")
@provider_only
def return_for_correction(public_id: str) -> Any:
    """Send the record back to the reseller to correct."""
    form = ReasonForm()
    if not form.validate_on_submit():
        abort(400)
    return _decide(
        public_id,
        lambda db, user, record: review.return_for_correction(
            db, actor=user, record=record, reason=form.reason.data
        ),
        _l("Returned to the reseller for correction."),
    )


@bp.post("/bulk-approve")
@provider_only
def bulk_approve() -> Any:
    """Approve every selected record that is still waiting."""
    if not ActionForm().validate_on_submit():
        abort(400)
    db, user = get_session(), actor()
    ids = request.form.getlist("record")[:500]
    result = attempt(lambda: review.bulk_approve(db, actor=user, public_ids=ids))
    if result is not None:
        enqueue_forwarding([r.id for r in result.approved])
        flash(
            _("Approved %(num)s record(s).", num=len(result.approved)),
            "success",
        )
        for public_id, why in result.skipped[:10]:
            flash(_("Not approved %(id)s: %(why)s", id=public_id[:8], why=translate(why)), "error")
    return redirect(request.referrer if _same_site(request.referrer) else url_for(".queue"))


def _same_site(url: str | None) -> bool:
    return bool(url) and url.startswith(request.host_url)  # type: ignore[union-attr]


@bp.get("/forwarding")
@provider_only
def forwarding() -> Any:
    """What the worker is doing: in flight, waiting to retry, failed with Partner Center's error."""
    db = get_session()
    snapshot = monitor.snapshot(db)
    ids = {r.customer_id for r in snapshot.all_records()}
    return render_template(
        "review/forwarding.html",
        snapshot=snapshot,
        customers=listing.customers_by_id(db, ids),
        orgs=listing.organizations_by_id(db, {r.reseller_id for r in snapshot.all_records()}),
        action_form=ActionForm(),
    )


@bp.get("/customers/<int:customer_id>")
@provider_only
def customer(customer_id: int) -> Any:
    """A customer's timeline across resellers: records, confirmations, who serves it."""
    db, user = get_session(), actor()
    found = get_customer(db, user, customer_id)
    page = listing.list_records(
        db,
        actor=user,
        filters=listing.RecordFilter(customer_id=customer_id),
        after=decode_cursor(request.args.get("after")),
        limit=50,
    )
    entries = timeline.customer_timeline(db, actor=user, customer=found)
    return render_template(
        "review/customer.html",
        customer=found,
        records=page.items,
        next_cursor=encode_cursor(*page.next_after) if page.next_after else None,
        resellers=resellers_of(db, found),
        orgs=listing.organizations_by_id(
            db,
            {r.reseller_id for r in page.items} | {e.reseller_id for e in entries if e.reseller_id},
        ),
        confirmations=record_details.confirmations_for(db, customer_id),
        timeline=entries,
        transact=transact.transact_status(db, actor=user, customer=found),
        reason_form=ReasonForm(),
    )


@bp.post("/customers/<int:customer_id>/withdraw")
@provider_only
def withdraw_customer(customer_id: int) -> Any:
    """R13: record that the customer no longer accepts the agreement."""
    form = ReasonForm()
    if not form.validate_on_submit():
        abort(400)
    db, user = get_session(), actor()
    found = get_customer(db, user, customer_id)
    if attempt(lambda: record_withdrawal(db, actor=user, customer=found, reason=form.reason.data)):
        flash(_("Withdrawal recorded: cancel this customer's subscriptions."), "success")
    return redirect(url_for(".customer", customer_id=customer_id))


@bp.post("/customers/<int:customer_id>/confirmations/<int:confirmation_id>/supersede")
@provider_only
def supersede_confirmation(customer_id: int, confirmation_id: int) -> Any:
    """A provider admin asks for a new confirmation of the same version (a new contact)."""
    form = ReasonForm()
    if not form.validate_on_submit():
        abort(400)
    db, user = get_session(), actor()
    get_customer(db, user, customer_id)
    entry = db.get(Confirmation, confirmation_id)
    if entry is None or entry.customer_id != customer_id:
        abort(404)
    if attempt(lambda: supersede(db, actor=user, confirmation=entry, reason=form.reason.data)):
        flash(_("Done: the next approved record for this customer is sent again."), "success")
    return redirect(url_for(".customer", customer_id=customer_id))
