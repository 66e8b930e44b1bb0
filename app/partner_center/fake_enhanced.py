"""The fake Partner Center's enhanced attestation routes (contract §2.5, §6).

- `POST /v1/attestations/enhanced`, `GET /v1/attestations/enhanced/<id>` and
  `GET /v1/agreementtemplates/<templateId>/document`: behind the same bearer check, request log
  and fault injection as every /v1 route (`fake._gate`);
- `GET /mca/?attestationid=<id>` (Microsoft's acceptance page, public), `POST /mca/accept` and
  `GET /mca/agreement`: where a person plays the customer; no auth, no faults;
- `POST /_fake/attestations/<id>/accept` and `…/expire`, `GET /_fake/attestations`: the same
  for tests, in JSON.

Field names and paths come from `enhanced_wire`, like the client's, so the fake speaks exactly
what the portal believes the wire to be. The finalize call is the create-agreement route in
`fake.py`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from flask import Flask, Response, g, jsonify, request, url_for
from flask.typing import ResponseReturnValue

from app.partner_center import enhanced_wire as wire
from app.partner_center.fake_models import (
    CUSTOMER_AGREEMENT,
    EMAIL_RE,
    INVALID_PROPERTY,
    FakeAttestation,
    FakeContact,
    iso_utc,
    pc_error,
    tenant_or_none,
)
from app.partner_center.fake_pages import (
    LANGUAGES,
    acceptance_page,
    document_page,
    message_page,
)
from app.partner_center.fake_store import FakeStore
from app.partner_center.responses import ci

ATTESTATION_CREATE_ENDPOINT = "create_attestation"

# A fixed subset of ISO 3166-1 alpha-2 (contract §2.5: country is alpha-2 and required); enough
# for development and tests, and strict enough to catch a name or a lowercase code.
_COUNTRY_CODES = (
    "AE AR AT AU BE BG BR CA CH CL CN CO CZ DE DK EE EG ES FI FR GB GR HK HR HU ID IE IL IN IS "
    "IT JP KR KZ LT LU LV MX MY NG NL NO NZ PE PH PL PT QA RO RS SA SE SG SI SK TH TR TW UA US "
    "VN ZA"
)
COUNTRIES = frozenset(_COUNTRY_CODES.split(" "))
# BCP 47-like: "ko", "ko-KR", "zh-Hans-CN" (the value format is unconfirmed, contract §2.5).
_LANGUAGE_RE = re.compile(r"^[a-z]{2,3}(?:-[A-Z][a-z]{3})?(?:-(?:[A-Z]{2}|[0-9]{3}))?$")

StoreGetter = Callable[[], FakeStore]


def _html(text: str, status: int = 200) -> Response:
    return Response(text, status=status, content_type="text/html; charset=utf-8")


def _invalid(description: str) -> ResponseReturnValue:
    return jsonify(pc_error(INVALID_PROPERTY, f"Invalid property: {description}")), 400


def _text(body: dict[str, Any], name: str) -> str | None:
    value = body.get(name.lower())
    return value.strip() if isinstance(value, str) and value.strip() else None


@dataclass(frozen=True)
class AttestationInput:
    """The validated values of a create-attestation body."""

    tenant_id: str
    country: str
    language: str
    company_name: str
    signatory: FakeContact


def parse_create(raw: Any) -> AttestationInput | str:
    """The create-attestation body's values, or the description of what is wrong with it."""
    body = ci(raw)
    tenant = tenant_or_none(body.get(wire.CUSTOMER_TENANT_ID.lower()))
    if tenant is None:
        return f"{wire.CUSTOMER_TENANT_ID} must be the customer's tenant id (a GUID)."
    country = _text(body, wire.COUNTRY)
    if country is None or country not in COUNTRIES:
        return f"{wire.COUNTRY} must be an ISO 3166-1 alpha-2 country code, got {country!r}."
    language = _text(body, wire.LANGUAGE)
    if language is None or not _LANGUAGE_RE.match(language):
        return f"{wire.LANGUAGE} must be a language tag such as 'ko-KR', got {language!r}."
    values: dict[str, str] = {}
    for name in (
        wire.COMPANY_NAME,
        wire.SIGNATORY_FIRST_NAME,
        wire.SIGNATORY_LAST_NAME,
        wire.SIGNATORY_EMAIL,
    ):
        value = _text(body, name)
        if value is None:
            return f"{name} is required."
        values[name] = value
    if not EMAIL_RE.match(values[wire.SIGNATORY_EMAIL]):
        return f"{wire.SIGNATORY_EMAIL} '{values[wire.SIGNATORY_EMAIL]}' is not a valid email."
    phone = body.get(wire.SIGNATORY_PHONE.lower())
    if phone is not None and not isinstance(phone, str):
        return f"{wire.SIGNATORY_PHONE} must be a string."
    return AttestationInput(
        tenant_id=tenant,
        country=country,
        language=language,
        company_name=values[wire.COMPANY_NAME],
        signatory=FakeContact(
            values[wire.SIGNATORY_FIRST_NAME],
            values[wire.SIGNATORY_LAST_NAME],
            values[wire.SIGNATORY_EMAIL],
            phone or None,
        ),
    )


def _lang() -> str:
    """`?lang=` (or the form's), else the browser's preference, else Korean."""
    chosen = request.values.get("lang", "")
    if chosen in LANGUAGES:
        return chosen
    return request.accept_languages.best_match(LANGUAGES) or "ko"


def _admin_json(attestation: FakeAttestation, now: datetime) -> dict[str, Any]:
    """An attestation as `GET /_fake/attestations` lists it (the fake's own view)."""
    return {
        wire.ATTESTATION_ID: attestation.attestation_id,
        "tenantId": attestation.tenant_id,
        "state": attestation.state(now),
        "live": attestation.is_live(now),
        "companyName": attestation.company_name,
        "country": attestation.country,
        "language": attestation.language,
        "createdAt": iso_utc(attestation.created_at),
        "expiresAt": iso_utc(attestation.expires_at),
        "requestId": attestation.request_id,
    }


def _utcnow() -> datetime:
    return datetime.now(UTC)


def register_enhanced_routes(app: Flask, store: StoreGetter) -> None:
    """Add the enhanced flow's routes to the fake app; `store` returns the app's store."""

    @app.post(wire.CREATE_PATH, endpoint=ATTESTATION_CREATE_ENDPOINT)
    def create_attestation() -> ResponseReturnValue:
        parsed = parse_create(request.get_json(silent=True))
        if isinstance(parsed, str):
            return _invalid(parsed)
        status, body = store().attestations.create(
            tenant_id=parsed.tenant_id,
            country=parsed.country,
            language=parsed.language,
            company_name=parsed.company_name,
            signatory=parsed.signatory,
            request_id=request.headers.get("MS-RequestId"),
            lapse_seconds=store().faults().attestationLapseSeconds,
        )
        if status == 201 and g.get("hang_after_commit"):
            # The attestation exists; the caller's timeout now leaves it without the id, and
            # only a replay of the same MS-RequestId gives it back.
            store().sleep(float(g.get("hang_seconds", 0.0)))
        return jsonify(body), status

    @app.get(f"{wire.CREATE_PATH}/<attestation_id>")
    def attestation_status(attestation_id: str) -> ResponseReturnValue:
        found = store().attestations.get(attestation_id)
        if found is None:
            return jsonify(pc_error(404, f"Attestation '{attestation_id}' was not found.")), 404
        return jsonify(found.status_json(_utcnow()))

    @app.get("/v1/agreementtemplates/<template_id>/document")
    def agreement_document(template_id: str) -> ResponseReturnValue:
        template = store().find_template(template_id)
        # The template id is case-sensitive (contract §6); ours are stored lowercase.
        if template is None or template.template_id != template_id:
            return jsonify(pc_error(404, f"Template '{template_id}' was not found.")), 404
        country = request.args.get(wire.DOCUMENT_COUNTRY) or "US"
        language = request.args.get(wire.DOCUMENT_LANGUAGE) or "en-US"
        return _html(document_page(template, country=country, language=language))

    @app.get("/mca/")
    def acceptance() -> ResponseReturnValue:
        lang = _lang()
        attestation_id = request.args.get(wire.ACCEPTANCE_QUERY, "")
        found = store().attestations.get(attestation_id) if attestation_id else None
        if found is None:
            return _html(*message_page(lang, "unknown"))
        state = found.state(_utcnow())
        if state == wire.EXPIRED:
            return _html(*message_page(lang, "expired"))
        if state != wire.PENDING:
            return _html(*message_page(lang, "already"))
        other = "en" if lang == "ko" else "ko"
        query = {wire.ACCEPTANCE_QUERY: found.attestation_id}
        page = acceptance_page(
            found,
            lang,
            action=url_for("accept_page"),
            document_href=f"{url_for('acceptance_document')}?{urlencode(query | {'lang': lang})}",
            other_href=f"{url_for('acceptance')}?{urlencode(query | {'lang': other})}",
        )
        return _html(page)

    @app.post("/mca/accept", endpoint="accept_page")
    def accept_page() -> ResponseReturnValue:
        outcome, _found = store().attestations.accept(request.form.get(wire.ACCEPTANCE_QUERY, ""))
        return _html(*message_page(_lang(), outcome))

    @app.get("/mca/agreement", endpoint="acceptance_document")
    def acceptance_document() -> ResponseReturnValue:
        found = store().attestations.get(request.args.get(wire.ACCEPTANCE_QUERY, ""))
        templates = store().templates(CUSTOMER_AGREEMENT)
        if found is None or not templates:
            return _html(*message_page(_lang(), "unknown"))
        return _html(document_page(templates[0], country=found.country, language=found.language))

    @app.post("/_fake/attestations/<attestation_id>/accept")
    def fake_accept(attestation_id: str) -> ResponseReturnValue:
        outcome, found = store().attestations.accept(attestation_id)
        if found is None:
            return jsonify({"error": f"unknown attestation {attestation_id}"}), 404
        if outcome == "expired":
            return jsonify({"error": "the attestation expired", "outcome": outcome}), 409
        return jsonify({"outcome": outcome} | found.status_json(_utcnow()))

    @app.post("/_fake/attestations/<attestation_id>/expire")
    def fake_expire(attestation_id: str) -> ResponseReturnValue:
        found = store().attestations.expire(attestation_id)
        if found is None:
            return jsonify({"error": f"unknown attestation {attestation_id}"}), 404
        return jsonify(found.status_json(_utcnow()))

    @app.get("/_fake/attestations")
    def fake_attestations() -> ResponseReturnValue:
        now = _utcnow()
        items = [_admin_json(a, now) for a in store().attestations.all()]
        return jsonify({"totalCount": len(items), "items": items})
