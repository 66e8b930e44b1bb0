"""A faithful fake of Partner Center's agreement endpoints, for development and tests.

Same paths, bodies, error shapes and validation as `partner-center-contract.md` (§2.1-2.4, §4,
§5, §11), plus fault injection and `/_fake/*` inspection routes. The enhanced attestation flow
(§2.5: create, status, acceptance page, document) is in `fake_enhanced`; its finalize call is
the create route here, carrying an attestation id. It is a separate, small Flask app; run it
with `serve()` (the `intake fake-partner-center` command) or, in tests, with
`app.partner_center.fake_server.FakeServer`.
"""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from flask import Flask, current_app, g, jsonify, request
from flask.typing import ResponseReturnValue
from werkzeug.exceptions import HTTPException
from werkzeug.serving import WSGIRequestHandler, make_server

from app.partner_center import enhanced_wire as wire
from app.partner_center.fake_enhanced import ATTESTATION_CREATE_ENDPOINT, register_enhanced_routes
from app.partner_center.fake_models import (
    CLOUD_AGREEMENT,
    INVALID_INPUT,
    INVALID_PROPERTY,
    RequestRecord,
    parse_contact,
    parse_date,
    pc_error,
    tenant_or_none,
)
from app.partner_center.fake_store import FakeStore
from app.partner_center.responses import ci

logger = logging.getLogger(__name__)

_EXTENSION = "fake_partner_center"
_BEARER_RE = re.compile(r"^Bearer\s+(\S+)", re.IGNORECASE)
_AUTH_MESSAGES = {
    800001: "Partner Token missing in request context",
    900421: "The App+User token has no valid MFA claim.",
}
_CREATE_ENDPOINT = "create_agreement"
# POSTs that store something: the ones a hangAfterCommit fault may hold after storing.
_STORING_ENDPOINTS = frozenset({_CREATE_ENDPOINT, ATTESTATION_CREATE_ENDPOINT})


class QuietRequestHandler(WSGIRequestHandler):
    """The development server's handler without one log line per request."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        """Skip the access log."""


def get_store(app: Flask) -> FakeStore:
    """The store behind a fake app made by `create_fake_app`."""
    store = app.extensions[_EXTENSION]
    assert isinstance(store, FakeStore)  # noqa: S101 - only create_fake_app sets it
    return store


def _store() -> FakeStore:
    return get_store(current_app)


def _error(status: int, code: int | str, description: str) -> ResponseReturnValue:
    return jsonify(pc_error(code, description)), status


def _collection(items: list[dict[str, Any]], uri: str) -> dict[str, Any]:
    return {
        "totalCount": len(items),
        "items": items,
        "links": {"self": {"uri": uri, "method": "GET", "headers": []}},
        "attributes": {"objectType": "Collection"},
    }


def _type_param() -> str:
    # Omitted means the Cloud Agreement, for backward compatibility (contract §2.1, §2.3).
    return request.args.get("agreementType") or CLOUD_AGREEMENT


def _gate() -> ResponseReturnValue | None:
    """Counters, request log, auth and faults for every /v1 request."""
    if not request.path.startswith("/v1/"):
        return None
    store = _store()
    g.request_id = request.headers.get("MS-RequestId") or str(uuid.uuid4())
    g.correlation_id = request.headers.get("MS-CorrelationId") or str(uuid.uuid4())
    endpoint = request.url_rule.endpoint if request.url_rule is not None else None
    storing_post = request.method == "POST" and endpoint in _STORING_ENDPOINTS
    if storing_post and endpoint == _CREATE_ENDPOINT:
        store.count_post(tenant_or_none((request.view_args or {}).get("tenant_id")))
    store.record_request(
        RequestRecord(
            method=request.method,
            path=request.path,
            query=dict(request.args.items()),
            headers=dict(request.headers.items()),
            body=request.get_data(as_text=True),
        )
    )
    bearer = _BEARER_RE.match(request.headers.get("Authorization", ""))
    denial = store.token_denial(bearer.group(1)) if bearer else 800001
    if denial is not None:
        response = jsonify(pc_error(denial, _AUTH_MESSAGES.get(denial, "Access denied")))
        response.headers["WWW-Authenticate"] = "Bearer"
        return response, 401
    decision = store.draw(create_post=storing_post)
    store.sleep(decision.latency)
    g.hang_after_commit = decision.hang_after_commit
    g.hang_seconds = decision.hang_seconds
    if decision.action == "timeout":
        store.sleep(decision.hang_seconds)
        return _error(504, 504, "The upstream service did not answer in time.")
    if decision.action == "error5xx":
        status = decision.error_status
        return _error(status, status, "The fake Partner Center injected a server error.")
    if decision.action == "throttle":
        seconds = decision.retry_after
        response = jsonify(
            {
                "statusCode": 429,
                "message": f"Rate limit is exceeded. Try again in {seconds} seconds.",
            }
        )
        response.headers["Retry-After"] = str(seconds)
        return response, 429
    return None


def create_fake_app(store: FakeStore | None = None) -> Flask:
    """Build the fake Partner Center app around `store` (a fresh one by default)."""
    app = Flask(__name__)
    app.json.sort_keys = False  # type: ignore[attr-defined]
    app.extensions[_EXTENSION] = store if store is not None else FakeStore()
    app.before_request(_gate)
    register_enhanced_routes(app, _store)

    @app.after_request
    def _echo(response: Any) -> Any:
        if request.path.startswith("/v1/"):
            response.headers["MS-RequestId"] = g.get("request_id") or str(uuid.uuid4())
            response.headers["MS-CorrelationId"] = g.get("correlation_id") or str(uuid.uuid4())
        return response

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException) -> ResponseReturnValue:
        status = exc.code or 500
        return _error(status, status, exc.description or exc.name)

    @app.get("/v1/agreements")
    def list_templates() -> ResponseReturnValue:
        items = [t.to_json() for t in _store().templates(_type_param())]
        return jsonify(_collection(items, "/agreements"))

    @app.post("/v1/customers/<tenant_id>/agreements", endpoint=_CREATE_ENDPOINT)
    def create_agreement(tenant_id: str) -> ResponseReturnValue:
        store = _store()
        tenant = tenant_or_none(tenant_id)
        if tenant is None:
            return _error(400, INVALID_INPUT, f"Invalid customer tenant id '{tenant_id}'.")
        request_id = request.headers.get("MS-RequestId")
        earlier = store.replay(tenant, request_id)
        if earlier is not None:
            return jsonify(earlier), 201
        body = ci(request.get_json(silent=True))
        if not body:
            return _error(400, INVALID_INPUT, "Invalid request input: expected an Agreement.")
        contact = parse_contact(body.get("primarycontact"))
        if isinstance(contact, str):
            return _error(400, INVALID_PROPERTY, contact)
        template_id = body.get("templateid")
        if not isinstance(template_id, str) or not template_id.strip():
            return _error(400, INVALID_PROPERTY, "Invalid property: templateId is required.")
        date_agreed = parse_date(body.get("dateagreed"))
        if date_agreed is None:
            return _error(
                400, INVALID_PROPERTY, "Invalid property: dateAgreed must be a UTC date-time."
            )
        if date_agreed > datetime.now(UTC):
            return _error(400, 600002, "Date of agreement cannot be greater than the current date.")
        attestation_id = body.get(wire.FINALIZE_ATTESTATION_ID.lower())
        if attestation_id is not None and (
            not isinstance(attestation_id, str) or not attestation_id.strip()
        ):
            message = f"Invalid property: {wire.FINALIZE_ATTESTATION_ID} must be a string."
            return _error(400, INVALID_PROPERTY, message)
        template_id = template_id.strip()
        if attestation_id is not None:
            # The enhanced flow's finalize call (contract §2.5 step 3).
            status, reply = store.finalize(
                tenant,
                attestation_id=attestation_id.strip(),
                request_id=request_id,
                contact=contact,
                template_id=template_id,
                date_agreed=date_agreed,
            )
        else:
            status, reply = store.create(
                tenant,
                request_id=request_id,
                contact=contact,
                template_id=template_id,
                date_agreed=date_agreed,
            )
        if status == 201 and g.get("hang_after_commit"):
            # The confirmation is stored; the caller's timeout now makes the outcome ambiguous.
            store.sleep(float(g.get("hang_seconds", 0.0)))
        return jsonify(reply), status

    @app.get("/v1/customers/<tenant_id>/agreements")
    def list_confirmations(tenant_id: str) -> ResponseReturnValue:
        tenant = tenant_or_none(tenant_id)
        if tenant is None:
            return _error(400, INVALID_INPUT, f"Invalid customer tenant id '{tenant_id}'.")
        items = [c.to_json() for c in _store().confirmations(tenant, _type_param())]
        return jsonify(_collection(items, f"/customers/{tenant}/agreements"))

    @app.get("/v1/customers/<tenant_id>/directSignedMicrosoftCustomerAgreementStatus")
    def direct_signed(tenant_id: str) -> ResponseReturnValue:
        tenant = tenant_or_none(tenant_id)
        if tenant is None:
            return _error(400, INVALID_INPUT, f"Invalid customer tenant id '{tenant_id}'.")
        return jsonify({"isSigned": _store().direct_signed(tenant)})

    _register_admin_routes(app)
    return app


def _register_admin_routes(app: Flask) -> None:
    """`/_fake/*`: inspection and control, without auth or faults."""

    def bad(message: str) -> ResponseReturnValue:
        return jsonify({"error": message}), 400

    def json_object() -> dict[str, Any] | None:
        body = request.get_json(silent=True)
        return body if isinstance(body, dict) else None

    @app.get("/_fake/stats")
    def fake_stats() -> ResponseReturnValue:
        return jsonify(_store().stats())

    @app.get("/_fake/faults")
    def fake_faults() -> ResponseReturnValue:
        return jsonify(_store().faults().to_dict())

    @app.post("/_fake/faults")
    def fake_set_faults() -> ResponseReturnValue:
        body = json_object()
        if body is None:
            return bad("expected a JSON object of fault settings")
        try:
            return jsonify(_store().set_faults(body).to_dict())
        except ValueError as exc:
            return bad(str(exc))

    @app.post("/_fake/reset")
    def fake_reset() -> ResponseReturnValue:
        _store().reset()
        return jsonify({"reset": True})

    @app.post("/_fake/customers/<tenant_id>/direct-signed")
    def fake_direct_signed(tenant_id: str) -> ResponseReturnValue:
        tenant = tenant_or_none(tenant_id)
        body = json_object()
        if tenant is None or body is None or not isinstance(body.get("isSigned"), bool):
            return bad('expected a GUID tenant and {"isSigned": true|false}')
        _store().set_direct_signed(tenant, body["isSigned"])
        return jsonify({"isSigned": body["isSigned"]})

    @app.post("/_fake/templates")
    def fake_publish_template() -> ResponseReturnValue:
        body = json_object() or {}
        kind, template_id = body.get("agreementType"), body.get("templateId")
        link, rank = body.get("agreementLink", ""), body.get("versionRank", 0)
        if not isinstance(kind, str) or not kind or not isinstance(template_id, str):
            return bad("agreementType and a GUID templateId are required")
        if tenant_or_none(template_id) is None:
            return bad("agreementType and a GUID templateId are required")
        if not isinstance(link, str) or isinstance(rank, bool) or not isinstance(rank, int):
            return bad("agreementLink must be a string and versionRank an integer")
        try:
            template = _store().publish_template(kind, template_id, link, rank)
        except ValueError as exc:
            return bad(str(exc))
        return jsonify(template.to_json()), 201

    @app.get("/_fake/customers/<tenant_id>/agreements")
    def fake_confirmations(tenant_id: str) -> ResponseReturnValue:
        items = []
        for c in _store().confirmations(tenant_id, "*"):
            item = c.to_json()
            item.update(requestId=c.request_id, createdAt=c.created_at.isoformat())
            items.append(item)
        return jsonify({"totalCount": len(items), "items": items})

    @app.post("/_fake/customers/<tenant_id>/agreements")
    def fake_seed_confirmation(tenant_id: str) -> ResponseReturnValue:
        # Seeds upstream history (another partner, an earlier attestation): no checks, no counts.
        tenant = tenant_or_none(tenant_id)
        body = ci(json_object())
        contact = parse_contact(body.get("primarycontact"))
        date_agreed = parse_date(body.get("dateagreed"))
        template_id = body.get("templateid")
        if tenant is None or isinstance(contact, str) or date_agreed is None:
            return bad("expected a GUID tenant, primaryContact and dateAgreed")
        if not isinstance(template_id, str) or tenant_or_none(template_id) is None:
            return bad("expected a GUID templateId")
        style = body.get("keystyle") if body.get("keystyle") in ("camel", "pascal") else "camel"
        stored = _store().add_confirmation(
            tenant,
            contact=contact,
            date_agreed=date_agreed,
            template_id=template_id,
            key_style=str(style),
        )
        return jsonify(stored.to_json()), 201

    @app.get("/_fake/requests")
    def fake_requests() -> ResponseReturnValue:
        return jsonify([vars(r) for r in _store().requests()])


def serve(
    host: str = "127.0.0.1",
    port: int = 5050,
    faults: Mapping[str, Any] | None = None,
    *,
    store: FakeStore | None = None,
    quiet: bool = False,
) -> None:
    """Run the fake until interrupted (Ctrl+C).

    `faults` takes the `/_fake/faults` keys (None values are skipped); bad ones raise ValueError
    before the port is opened.
    """
    store = store if store is not None else FakeStore()
    if faults:
        store.set_faults({k: v for k, v in faults.items() if v is not None})
    app = create_fake_app(store)
    handler = QuietRequestHandler if quiet else None
    server = make_server(host, port, app, threaded=True, request_handler=handler)
    logger.info("fake Partner Center listening on http://%s:%s", host, server.server_port)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        store.wake_sleepers()
        server.server_close()
