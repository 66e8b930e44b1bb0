"""The 2026 acceptance loop on screen (R18, R19): intake fields, the link with its copy button,
QR code and messages, re-issue of a lapsed link, the to-do lists and the agreement document."""

from __future__ import annotations

import html
import re
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlmodel import Session, col, select

from app.models import AcceptanceRecord, Customer, Organization, RecordStatus, utcnow
from app.partner_center.fake_server import FakeServer
from app.partner_center.responses import AgreementDocument
from app.services.users import create_api_token
from tests.conftest import AppFactory
from tests.support import Users, approved, new_tenant, reread
from tests.web.conftest import signed_in
from tests.web.states import awaiting, expired

TEMPLATE_ID = "117a77b0-9360-443b-8795-c6dedc750cf9"


@pytest.fixture(autouse=True)
def enqueued(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The record ids the views hand to the forwarding worker."""
    seen: list[int] = []

    def publish(record_ids: list[int], *, countdown: float | None = None) -> int:
        seen.extend(record_ids)
        return len(record_ids)

    for module in ("app.web.reseller.loop", "app.web.review.waiting"):
        monkeypatch.setattr(f"{module}.enqueue_forwarding", publish)
    return seen


def page(response: Any) -> str:
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    return html.unescape(response.get_data(as_text=True))


def textarea(text: str, element_id: str) -> str:
    found = re.search(rf'<textarea id="{element_id}"[^>]*>(.*?)</textarea>', text, re.S)
    assert found, f"no textarea {element_id}"
    return found[1]


# --- intake: country and language -------------------------------------------------------------


def set_country(db: Session, users: Users, country: str | None) -> None:
    org = db.get_one(Organization, users.a_submitter.organization_id)
    org.country = country
    db.add(org)
    db.commit()


def form_data(tenant: str, **overrides: str) -> dict[str, str]:
    data = {
        "tenant_id": tenant,
        "company_name": "Contoso Japan",
        "domain": "contoso.example",
        "cloud": "public",
        "template_id": TEMPLATE_ID,
        "date_agreed": "2026-03-02",
        "first_name": "Yui",
        "last_name": "Sato",
        "email": "yui.sato@contoso.example",
        "phone": "+81 3 1234 5678",
    }
    data.update(overrides)
    return data


def test_the_forms_default_the_country_from_the_reseller_and_the_language_from_the_country(
    db: Session, users: Users, client_a: FlaskClient
) -> None:
    set_country(db, users, "KR")
    form = page(client_a.get("/reseller/acceptances/new"))
    assert re.search(r'<input[^>]*id="country"[^>]*value="KR"', form)
    assert 'list="country-codes"' in form
    assert '<datalist id="country-codes">' in form
    assert re.search(r'<option selected value="ko-KR">|<option value="ko-KR" selected', form)
    for tag in ("en-US", "ja-JP", "zh-CN", "zh-TW", "de-DE", "fr-FR", "es-ES", "vi-VN", "th-TH"):
        assert f'value="{tag}"' in form
    assert 'data-language-defaults="{' in form  # the script's table, in an attribute
    customer_form = page(client_a.get("/reseller/customers/new"))
    assert re.search(r'<input[^>]*id="country"[^>]*value="KR"', customer_form)


def test_a_submission_stores_country_and_language(
    db: Session, users: Users, client_a: FlaskClient
) -> None:
    tenant = new_tenant()
    response = client_a.post(
        "/reseller/acceptances/new", data=form_data(tenant, country="jp", language="ja-JP")
    )
    assert response.status_code == 302, response.get_data(as_text=True)[:500]
    customer = db.exec(select(Customer).where(Customer.tenant_id == tenant)).one()
    record = db.exec(
        select(AcceptanceRecord).where(AcceptanceRecord.customer_id == customer.id)
    ).one()
    assert (customer.country, record.language) == ("JP", "ja-JP")


def test_the_language_defaults_from_the_country_when_the_form_sends_none(
    db: Session, users: Users, client_a: FlaskClient
) -> None:
    tenant = new_tenant()
    response = client_a.post("/reseller/acceptances/new", data=form_data(tenant, country="KR"))
    assert response.status_code == 302
    record = db.exec(select(AcceptanceRecord).order_by(col(AcceptanceRecord.id).desc())).first()
    assert record is not None
    assert record.language == "ko-KR"


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("country", "Korea", "two-letter code"),
        ("country", "XX", "two-letter code"),
        ("language", "korean!", "language as a tag such as ko-KR"),
    ],
)
def test_a_wrong_country_or_language_is_shown_next_to_its_field(
    client_a: FlaskClient, field: str, value: str, message: str
) -> None:
    response = client_a.post(
        "/reseller/acceptances/new", data=form_data(new_tenant(), **{field: value})
    )
    assert response.status_code == 422
    text = html.unescape(response.get_data(as_text=True))
    error = re.search(rf'<p class="error" id="{field}-error">(.*?)</p>', text, re.S)
    assert error
    assert message in error[1]


def test_the_customer_form_stores_the_country_or_the_resellers(
    db: Session, users: Users, client_a: FlaskClient
) -> None:
    set_country(db, users, "KR")
    given, defaulted = new_tenant(), new_tenant()
    for tenant, country in ((given, "vn"), (defaulted, "")):
        data = {"tenant_id": tenant, "company_name": "Fabrikam", "cloud": "public"}
        response = client_a.post("/reseller/customers/new", data={**data, "country": country})
        assert response.status_code == 302, response.get_data(as_text=True)[:500]
    countries = {
        c.tenant_id: c.country
        for c in db.exec(select(Customer).where(col(Customer.tenant_id).in_([given, defaulted])))
    }
    assert countries == {given: "VN", defaulted: "KR"}
    bad = client_a.post(
        "/reseller/customers/new",
        data={"tenant_id": new_tenant(), "company_name": "F", "cloud": "public", "country": "ZZ"},
    )
    assert bad.status_code == 422
    assert "two-letter code" in bad.get_data(as_text=True)


# --- the link, its copy button, QR code and messages -------------------------------------------


@pytest.fixture
def waiting_record(db: Session, users: Users) -> AcceptanceRecord:
    record = approved(db, users.a_submitter, users.reviewer, language="ko-KR")
    awaiting(db, record, issued=timedelta(days=2))
    return record


def check_handover(text: str, url: str, company: str) -> None:
    assert f'value="{url}"' in text  # the link, in a field the copy button reads
    assert 'data-copy="acceptance-link"' in text
    assert 'data-copy="message-ko"' in text
    assert 'data-copy="message-en"' in text
    qr = re.search(r'<img src="(data:image/svg\+xml[^"]+)" alt="QR code', text)
    assert qr, "the QR code is an SVG data URI"
    korean, english = textarea(text, "message-ko"), textarea(text, "message-en")
    for message in (korean, english):
        assert url in message
        assert company in message
    assert "Microsoft 페이지" in korean
    assert "Microsoft's own page" in english
    # The CSP forbids inline script: the copy button's code comes from /static/app.js.
    assert '<script src="/static/app.js" defer></script>' in text
    assert not re.search(r"<script(?![^>]*\bsrc=)", text)


def test_the_reseller_sees_the_link_copy_button_qr_code_and_messages(
    db: Session, client_a: FlaskClient, waiting_record: AcceptanceRecord
) -> None:
    url = f"https://partner.microsoft.example/mca/?attestationid=att-{waiting_record.id}"
    text = page(client_a.get(f"/reseller/acceptances/{waiting_record.public_id}"))
    check_handover(text, url, "Contoso Korea")
    agreement = f"/reseller/customers/{waiting_record.customer_id}/agreement?language=ko-KR"
    assert f'href="{agreement}"' in text


def test_the_provider_sees_the_same_link_panel(
    reviewer: FlaskClient, waiting_record: AcceptanceRecord
) -> None:
    url = f"https://partner.microsoft.example/mca/?attestationid=att-{waiting_record.id}"
    check_handover(
        page(reviewer.get(f"/review/acceptances/{waiting_record.public_id}")),
        url,
        "Contoso Korea",
    )


def test_the_app_script_is_served(client: FlaskClient) -> None:
    response = client.get("/static/app.js")
    assert response.status_code == 200
    assert "data-copy" in response.get_data(as_text=True)
    response.close()


def test_no_link_panel_before_the_link_exists(
    db: Session, users: Users, client_a: FlaskClient
) -> None:
    record = approved(db, users.a_submitter, users.reviewer)
    text = page(client_a.get(f"/reseller/acceptances/{record.public_id}"))
    assert "acceptance-link" not in text
    assert "QR code" not in text


def test_the_api_record_carries_the_acceptance_url_country_and_language(
    db: Session, users: Users, client: FlaskClient, waiting_record: AcceptanceRecord
) -> None:
    _row, secret = create_api_token(db, actor=None, user=users.a_submitter, label="t")
    db.commit()
    body = client.get(
        f"/api/v1/acceptances/{waiting_record.public_id}",
        headers={"Authorization": f"Bearer {secret}"},
    ).get_json()
    assert body["status"] == "awaiting_customer"
    assert body["acceptanceUrl"].endswith(f"attestationid=att-{waiting_record.id}")
    assert body["language"] == "ko-KR"
    assert "country" in body["customer"]


# --- re-issue of a lapsed link (R19) ----------------------------------------------------------


@pytest.fixture
def lapsed_record(db: Session, users: Users) -> AcceptanceRecord:
    record = approved(db, users.a_submitter, users.reviewer)
    expired(db, record)
    return record


def test_the_expired_record_offers_a_new_link_and_reissue_sends_it_again(
    db: Session, client_a: FlaskClient, lapsed_record: AcceptanceRecord, enqueued: list[int]
) -> None:
    detail = f"/reseller/acceptances/{lapsed_record.public_id}"
    text = page(client_a.get(detail))
    assert f'action="{detail}/reissue"' in text
    assert "Issue a new link" in text
    response = client_a.post(f"{detail}/reissue")
    assert response.status_code == 302
    assert response.headers["Location"] == detail
    assert reread(db, AcceptanceRecord, lapsed_record.id).status == RecordStatus.APPROVED
    assert enqueued == [lapsed_record.id]


def test_another_reseller_cannot_reissue(
    db: Session, client_b: FlaskClient, lapsed_record: AcceptanceRecord, enqueued: list[int]
) -> None:
    response = client_b.post(f"/reseller/acceptances/{lapsed_record.public_id}/reissue")
    assert response.status_code == 404
    assert reread(db, AcceptanceRecord, lapsed_record.id).status == RecordStatus.EXPIRED
    assert enqueued == []


def test_only_an_expired_link_can_be_reissued(
    db: Session, client_a: FlaskClient, waiting_record: AcceptanceRecord, enqueued: list[int]
) -> None:
    response = client_a.post(
        f"/reseller/acceptances/{waiting_record.public_id}/reissue", follow_redirects=True
    )
    assert "Only an expired acceptance link can be issued again" in page(response)
    assert reread(db, AcceptanceRecord, waiting_record.id).status == "awaiting_customer"
    assert enqueued == []


def test_no_second_live_link_for_a_customer(
    db: Session,
    users: Users,
    client_a: FlaskClient,
    lapsed_record: AcceptanceRecord,
    enqueued: list[int],
) -> None:
    customer = db.get_one(Customer, lapsed_record.customer_id)
    other = approved(
        db, users.b_submitter, users.reviewer, **{"customer.tenantId": customer.tenant_id}
    )
    awaiting(db, other)
    todo = page(client_a.get("/reseller/todo"))
    assert "A new link is already under way." in todo
    response = client_a.post(
        f"/reseller/acceptances/{lapsed_record.public_id}/reissue", follow_redirects=True
    )
    assert "already has a live acceptance link" in page(response)
    assert reread(db, AcceptanceRecord, lapsed_record.id).status == RecordStatus.EXPIRED
    assert enqueued == []


def test_the_provider_reissues_from_the_record_or_the_waiting_page(
    db: Session, reviewer: FlaskClient, lapsed_record: AcceptanceRecord, enqueued: list[int]
) -> None:
    assert "Issue a new link" in page(
        reviewer.get(f"/review/acceptances/{lapsed_record.public_id}")
    )
    response = reviewer.post(
        f"/review/acceptances/{lapsed_record.public_id}/reissue", data={"back": "waiting"}
    )
    assert (response.status_code, response.headers["Location"]) == (302, "/review/waiting")
    assert reread(db, AcceptanceRecord, lapsed_record.id).status == RecordStatus.APPROVED
    assert enqueued == [lapsed_record.id]


# --- the to-do lists ------------------------------------------------------------------------


def test_the_todo_lists_waiting_customers_oldest_first_with_their_age(
    db: Session, users: Users, client_a: FlaskClient, client_b: FlaskClient
) -> None:
    recent = approved(db, users.a_submitter, users.reviewer, **{"customer.companyName": "Recent"})
    oldest = approved(db, users.a_submitter, users.reviewer, **{"customer.companyName": "Oldest"})
    lapsed = approved(db, users.a_submitter, users.reviewer, **{"customer.companyName": "Lapsed"})
    theirs = approved(db, users.b_submitter, users.reviewer, **{"customer.companyName": "Theirs"})
    awaiting(db, recent, issued=timedelta(hours=5, minutes=3))
    awaiting(db, oldest, issued=timedelta(days=3, hours=2))
    expired(db, lapsed, lapsed=timedelta(days=2, hours=1))
    awaiting(db, theirs, issued=timedelta(days=9))

    text = page(client_a.get("/reseller/todo"))
    waiting = text.split('id="waiting"', 1)[1].split("</table>", 1)[0]
    assert waiting.index("Oldest") < waiting.index("Recent")
    assert re.findall(r'<span class="age">([^<]+)</span>', waiting) == ["3 days", "5 hours"]
    assert 'data-copy="link-' in waiting
    lapsed_rows = text.split('id="lapsed"', 1)[1].split("</table>", 1)[0]
    assert "Lapsed" in lapsed_rows
    assert "2 days ago" in lapsed_rows
    assert f"/reseller/acceptances/{lapsed.public_id}/reissue" in lapsed_rows
    assert "Theirs" not in text
    assert theirs.public_id not in text
    assert 'href="/reseller/todo"' in text  # the nav link

    assert "Theirs" in page(client_b.get("/reseller/todo"))


def test_the_provider_waiting_page_spans_resellers_and_filters_by_one(
    db: Session, users: Users, reviewer: FlaskClient
) -> None:
    ours = approved(db, users.a_submitter, users.reviewer, **{"customer.companyName": "Ours A"})
    theirs = approved(db, users.b_submitter, users.reviewer, **{"customer.companyName": "Theirs B"})
    awaiting(db, ours, issued=timedelta(days=1))
    awaiting(db, theirs, issued=timedelta(days=4))
    everyone = page(reviewer.get("/review/waiting"))
    rows = everyone.split('id="waiting"', 1)[1].split("</table>", 1)[0]
    assert rows.index("Theirs B") < rows.index("Ours A")
    assert "Reseller A" in rows
    assert "Reseller B" in rows
    assert 'href="/review/waiting"' in everyone
    only_a = page(reviewer.get(f"/review/waiting?reseller={users.a_submitter.organization_id}"))
    assert "Ours A" in only_a
    assert "Theirs B" not in only_a


def test_the_age_reads_in_whole_units() -> None:
    from app.web.helpers import age

    now = utcnow()
    assert age(now - timedelta(days=1, hours=23), now) == "1 day"
    assert age(now - timedelta(hours=2), now) == "2 hours"
    assert age(now - timedelta(minutes=1, seconds=5), now) == "1 minute"
    assert age(now - timedelta(seconds=5), now) == "less than a minute"


# --- the agreement document ------------------------------------------------------------------


class StubGateway:
    """Answers agreement_document as told, and remembers what it was asked."""

    def __init__(self, answer: AgreementDocument | Exception) -> None:
        self.answer = answer
        self.asked: list[tuple[str, str, str]] = []

    def agreement_document(self, template_id: str, country: str, language: str) -> Any:
        self.asked.append((template_id, country, language))
        if isinstance(self.answer, Exception):
            raise self.answer
        return self.answer


def use_gateway(monkeypatch: pytest.MonkeyPatch, gateway: StubGateway) -> None:
    monkeypatch.setattr("app.partner_center.runtime.gateway", lambda: gateway)


def test_the_agreement_link_redirects_to_the_document(
    db: Session, users: Users, client_a: FlaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    set_country(db, users, "KR")
    record = approved(db, users.a_submitter, users.reviewer)
    stub = StubGateway(AgreementDocument("application/json", None, "https://docs.example/mca"))
    use_gateway(monkeypatch, stub)
    response = client_a.get(f"/reseller/customers/{record.customer_id}/agreement?language=ja_jp")
    assert (response.status_code, response.headers["Location"]) == (
        302,
        "https://docs.example/mca",
    )
    assert stub.asked == [(TEMPLATE_ID, "KR", "ja-JP")]
    customer_page = page(client_a.get(f"/reseller/customers/{record.customer_id}"))
    assert f'action="/reseller/customers/{record.customer_id}/agreement"' in customer_page


def test_a_served_document_cannot_run_script_in_our_origin(
    db: Session, users: Users, client_a: FlaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    record = approved(db, users.a_submitter, users.reviewer)
    body = b"<html><script>alert(1)</script><p>Agreement</p></html>"
    use_gateway(monkeypatch, StubGateway(AgreementDocument("text/html; charset=utf-8", body, None)))
    response = client_a.get(f"/reseller/customers/{record.customer_id}/agreement")
    assert response.status_code == 200
    assert response.data == body
    assert response.headers["Content-Type"] == "text/html; charset=utf-8"
    assert response.headers["Content-Security-Policy"] == (
        "sandbox; default-src 'none'; style-src 'unsafe-inline'"
    )
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_an_upstream_error_shows_the_public_link_instead(
    db: Session, users: Users, client_a: FlaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    from app.partner_center.errors import Transient

    record = approved(db, users.a_submitter, users.reviewer)
    use_gateway(monkeypatch, StubGateway(Transient("down", code="503", status=503)))
    response = client_a.get(f"/reseller/customers/{record.customer_id}/agreement")
    assert response.status_code == 502
    assert 'href="https://aka.ms/customeragreement"' in response.get_data(as_text=True)
    use_gateway(monkeypatch, StubGateway(AgreementDocument("x", None, "javascript:alert(1)")))
    refused = client_a.get(f"/reseller/customers/{record.customer_id}/agreement")
    assert refused.status_code == 502


def test_another_resellers_customer_has_no_agreement_page(
    db: Session, users: Users, client_b: FlaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    record = approved(db, users.a_submitter, users.reviewer)
    stub = StubGateway(AgreementDocument("text/html", b"x", None))
    use_gateway(monkeypatch, stub)
    assert client_b.get(f"/reseller/customers/{record.customer_id}/agreement").status_code == 404
    assert stub.asked == []


def test_the_agreement_comes_from_the_fake_partner_center(
    make_app: AppFactory, sqlite_url: str, fake_pc: FakeServer
) -> None:
    app: Flask = make_app(sqlite_url, PARTNER_CENTER_URL=fake_pc.url)
    with app.app_context():
        from app.db import get_session
        from tests.support import load_users

        db = get_session()
        users = load_users(db)
        record = approved(db, users.a_submitter, users.reviewer)
        customer_id = record.customer_id
    browser = signed_in(app, users.a_submitter.email)
    response = browser.get(f"/reseller/customers/{customer_id}/agreement?language=ko-KR")
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    assert "ko-KR" in response.get_data(as_text=True)
    assert response.headers["Content-Security-Policy"].startswith("sandbox;")
