"""API views: parse JSON, call one service, commit, enqueue after the commit, answer JSON."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from flask import Blueprint, jsonify, request, url_for
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.exc import StaleDataError

from app.context import current_settings as settings
from app.db import get_session
from app.extensions import csrf
from app.models import AcceptanceRecord, RecordStatus, Source
from app.models.acceptance_input import normalize_tenant_id, parse_submission
from app.models.org import PROVIDER_ROLES, RESELLER_ROLES, Role
from app.security.permissions import actor, api_roles_required
from app.security.scoping import get_customer, get_customer_by_tenant, get_record
from app.services import acceptance, idempotency, listing, review, transact
from app.services.errors import DomainError, NotFound, ValidationFailed
from app.web.api.serializers import record_json, submitted_json, transact_json
from app.web.helpers import decode_cursor, encode_cursor
from workers.dispatch import enqueue_forwarding

bp = Blueprint("api", __name__)
PUBLIC_ID = re.compile(r"[0-9a-f]{32}")
CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
csrf.exempt(bp)  # bearer tokens, not cookies: no cross-site request can carry them
ALL_ROLES = frozenset(Role)


def _error(status: int, message: str, errors: dict[str, list[str]] | None = None) -> Any:
    body: dict[str, Any] = {"error": message}
    if errors is not None:
        body["errors"] = errors
    response = jsonify(body)
    response.status_code = status
    return response


@bp.url_value_preprocessor
def _refuse_nul(_endpoint: str | None, values: dict[str, Any] | None) -> None:
    # PostgreSQL refuses a NUL byte in a text parameter (a 500); an id with one names nothing.
    if values and any("\x00" in str(value) for value in values.values()):
        raise NotFound()


@bp.errorhandler(StaleDataError)
def _changed_meanwhile(_exc: StaleDataError) -> Any:
    get_session().rollback()
    return _error(409, "The record changed while this request ran; read it again.")


@bp.errorhandler(DomainError)
def _domain_error(exc: DomainError) -> Any:
    get_session().rollback()
    if isinstance(exc, ValidationFailed):
        return _error(422, "The request has invalid fields.", exc.errors)
    return _error(exc.http_status, exc.message)


def _json_object() -> dict[str, Any]:
    try:
        body = request.get_json(silent=True)
    except RecursionError:  # nested deeper than the JSON parser goes: not a usable body
        body = None
    if not isinstance(body, dict):
        raise ValidationFailed(
            {"body": ["Send a JSON object with Content-Type: application/json."]}
        )
    return body


def _record_response(record: AcceptanceRecord, status: int = 200) -> Any:
    db, user = get_session(), actor()
    customer = get_customer(db, user, record.customer_id)
    response = jsonify(record_json(db, record, actor=user, customer=customer))
    response.status_code = status
    return response


@bp.post("/acceptances")
@api_roles_required(RESELLER_ROLES)
def create_acceptance() -> Any:
    """Submit an acceptance; honours `Idempotency-Key`."""
    db, user = get_session(), actor()
    body = _json_object()
    key = request.headers.get("Idempotency-Key")
    fingerprint = idempotency.fingerprint(body)
    if key is not None:
        key = idempotency.check_key(key)
        stored = idempotency.stored_response(
            db, user=user, key=key, request_fingerprint=fingerprint
        )
        if stored is not None:
            return _replay(stored.status_code, stored.response_body)
    data = parse_submission(body, phone_region=settings().default_phone_region)
    record = acceptance.submit(
        db,
        actor=user,
        data=data,
        source=Source.API,
        default_country=settings().default_phone_region,
    )
    customer = get_customer(db, user, record.customer_id)
    payload = submitted_json(
        db, record, actor=user, customer=customer, company=data.customer.company_name
    )
    if key is not None:
        idempotency.remember(
            db, user=user, key=key, request_fingerprint=fingerprint, status_code=201, body=payload
        )
    try:
        db.commit()
    except IntegrityError:
        # The same key raced in from a parallel request and won: answer what it answered.
        db.rollback()
        stored = idempotency.stored_response(
            db, user=user, key=key or "", request_fingerprint=fingerprint
        )
        if stored is None:
            raise
        return _replay(stored.status_code, stored.response_body)
    response = jsonify(payload)
    response.status_code = 201
    response.headers["Location"] = url_for(".get_acceptance", public_id=record.public_id)
    return response


def _replay(status: int, body: dict[str, Any]) -> Any:
    response = jsonify(body)
    response.status_code = status
    response.headers["Idempotent-Replayed"] = "true"
    return response


def _get_record(public_id: str, *, for_update: bool = False) -> AcceptanceRecord:
    """The caller's record; an id that cannot be a record's (e.g. with a NUL byte, which
    PostgreSQL refuses in a query) is not looked up and answers like a missing one."""
    if not PUBLIC_ID.fullmatch(public_id):
        raise NotFound("No such acceptance record.")
    return get_record(get_session(), actor(), public_id, for_update=for_update)


@bp.get("/acceptances/<public_id>")
@api_roles_required(ALL_ROLES)
def get_acceptance(public_id: str) -> Any:
    """One record with its history."""
    return _record_response(_get_record(public_id))


@bp.get("/acceptances")
@api_roles_required(ALL_ROLES)
def list_acceptances() -> Any:
    """Records visible to the caller, newest first, with a keyset cursor."""
    db, user = get_session(), actor()
    errors: dict[str, list[str]] = {}
    status = request.args.get("status") or None
    if status is not None and status not in RecordStatus.__members__.values():
        errors["status"] = [f"Use one of: {', '.join(s.value for s in RecordStatus)}."]
    tenant = request.args.get("customerTenantId") or None
    try:
        tenant = normalize_tenant_id(tenant) if tenant else None
    except ValueError:
        errors["customerTenantId"] = ["Use the customer's tenant ID (a GUID)."]
    raw_limit = request.args.get("limit", "50").strip()
    # ASCII digits only: int() refuses "²" and 5,000-digit numbers with a ValueError, not None.
    limit = int(raw_limit) if re.fullmatch(r"-?[0-9]{1,6}", raw_limit) else 0
    if not 1 <= limit <= 200:
        errors["limit"] = ["Use a limit from 1 to 200."]
    cursor = request.args.get("cursor")
    after = decode_cursor(cursor)
    if cursor and after is None:
        errors["cursor"] = ["Use the nextCursor value of a previous page."]
    if errors:
        raise ValidationFailed(errors)
    page = listing.list_records(
        db,
        actor=user,
        filters=listing.RecordFilter(statuses=(status,) if status else (), tenant_id=tenant),
        after=after,
        limit=limit,
    )
    customers = listing.customers_by_id(db, {r.customer_id for r in page.items})
    items = [
        record_json(db, r, actor=user, customer=customers[r.customer_id], history=False)
        for r in page.items
    ]
    return jsonify(
        {"items": items, "nextCursor": encode_cursor(*page.next_after) if page.next_after else None}
    )


def _decide(public_id: str, decide: Callable[..., AcceptanceRecord], enqueue: bool) -> Any:
    db, user = get_session(), actor()
    record = _get_record(public_id, for_update=True)
    decide(db, user, record)
    db.commit()
    if enqueue:
        enqueue_forwarding([record.id or 0])
    return _record_response(record)


@bp.post("/acceptances/<public_id>/approve")
@api_roles_required(PROVIDER_ROLES)
def approve_acceptance(public_id: str) -> Any:
    """Approve a submitted record; 409 if its status does not allow it."""
    return _decide(
        public_id, lambda db, user, record: review.approve(db, actor=user, record=record), True
    )


@bp.post("/acceptances/<public_id>/reject")
@api_roles_required(PROVIDER_ROLES)
def reject_acceptance(public_id: str) -> Any:
    """Reject a submitted record with `{"reason": "..."}`."""
    reason = _json_object().get("reason")
    return _decide(
        public_id,
        lambda db, user, record: review.reject(db, actor=user, record=record, reason=_text(reason)),
        False,
    )


@bp.post("/acceptances/<public_id>/return")
@api_roles_required(PROVIDER_ROLES)
def return_acceptance(public_id: str) -> Any:
    """Return a record for correction with `{"reason": "..."}`."""
    reason = _json_object().get("reason")
    return _decide(
        public_id,
        lambda db, user, record: review.return_for_correction(
            db, actor=user, record=record, reason=_text(reason)
        ),
        False,
    )


def _text(value: Any) -> str | None:
    if isinstance(value, str) and CONTROL.search(value):
        # PostgreSQL refuses NUL in text; no reason needs control characters but line breaks.
        raise ValidationFailed({"reason": ["The reason contains characters that cannot be used."]})
    return value if isinstance(value, str) else None


@bp.get("/customers/<tenant_id>/transact-status")
@api_roles_required(ALL_ROLES)
def transact_status(tenant_id: str) -> Any:
    """May the customer make a new purchase or change seats now (R10, R12)? Renewals may."""
    db, user = get_session(), actor()
    try:
        tenant = normalize_tenant_id(tenant_id)
    except ValueError:
        raise ValidationFailed({"tenantId": ["Use the customer's tenant ID (a GUID)."]}) from None
    # Another reseller's customer answers exactly like an unknown one (404, same body).
    customer = get_customer_by_tenant(db, user, tenant)
    return jsonify(transact_json(transact.transact_status(db, actor=user, customer=customer)))
