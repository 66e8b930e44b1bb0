"""CSRF with the protection on, as in production (RELIABILITY-SECURITY.md 7.6; ASVS 3.5.1, 3.5.3).

Every state-changing form refuses a POST without its token or with another session's token
(400, nothing changed) and works with the token of its own page; no GET changes anything; the
API takes bearer tokens instead, and a session cookie alone does not open it.
"""

from __future__ import annotations

import html
import io
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from app.db import get_session
from app.models import AcceptanceRecord, RecordStatus
from app.services import evidence
from tests.conftest import AppFactory
from tests.security.helpers import (
    EMAILS,
    NEW_PASSWORD,
    TEMPLATE_ID,
    World,
    changed_tables,
    scalar,
    snapshot,
)
from tests.support import PASSWORD, load_users, new_tenant, submission

FORM = re.compile(r"<form\b([^>]*)>(.*?)</form>", re.S)
TOKEN = re.compile(r'<input\b[^>]*\bname="csrf_token"[^>]*\bvalue="([^"]*)"')
ACTION = re.compile(r'\b(?:form)?action="([^"]*)"')


@pytest.fixture
def app(make_app: AppFactory, sqlite_url: str) -> Flask:
    """The portal with CSRF protection on."""
    return make_app(sqlite_url, WTF_CSRF_ENABLED=True)


def form_token(page: str, page_url: str, action: str) -> str:
    """The csrf_token of the form on `page` that posts to `action`."""
    for attrs, inner in FORM.findall(page):
        if 'method="post"' not in attrs.lower():
            continue
        targets = {html.unescape(a) for a in ACTION.findall(attrs + inner)}
        if not ACTION.search(attrs):
            targets.add(page_url)  # no action: the form posts to its own page
        if action in {urlsplit(t).path for t in targets} | targets:
            found = TOKEN.search(inner)
            assert found, f"the form posting to {action} on {page_url} has no csrf_token"
            return html.unescape(found[1])
    raise AssertionError(f"no form posting to {action} on {page_url}")


def scrape(client: FlaskClient, page_url: str, action: str) -> str:
    response = client.get(page_url)
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    return form_token(response.get_data(as_text=True), urlsplit(page_url).path, action)


def sign_in(app: Flask, email: str) -> FlaskClient:
    """A browser signed in through the login form, with the form's token."""
    client = app.test_client()
    token = scrape(client, "/login", "/login")
    response = client.post(
        "/login", data={"email": email, "password": PASSWORD, "csrf_token": token}
    )
    assert response.status_code == 302, response.get_data(as_text=True)[:300]
    return client


def foreign_token(app: Flask, page_url: str, action: str) -> str:
    """A valid token of another browser session (what a cross-site attacker can obtain)."""
    other = app.test_client()
    if page_url == "/login":
        return scrape(other, page_url, action)
    return scrape(other, "/login", "/login")


# --- the forms ---------------------------------------------------------------------------------


@dataclass
class FormCase:
    """One state-changing form: who uses it, where its token is, what it posts, what it does."""

    actor: str | None  # None: an anonymous browser
    page: str
    action: str
    data: dict[str, Any]
    done: Callable[[FlaskClient], None]


def acceptance_data(tenant: str) -> dict[str, Any]:
    return {
        "tenant_id": tenant,
        "company_name": "Forgery Check Corp",
        "domain": "forgery.example",
        "cloud": "public",
        "template_id": TEMPLATE_ID,
        "date_agreed": "2026-03-02",
        "first_name": "Mina",
        "last_name": "Kim",
        "email": "mina.kim@forgery.example",
        "phone": "02-1234-5678",
    }


def count(app: Flask, sql: str, **params: Any) -> int:
    return int(scalar(app, sql, **params))


def form_case(app: Flask, name: str) -> FormCase:
    """The form `name` on a fresh database, its objects made."""
    world = World(app)
    a_org = world.org_id("a")

    def records_of_a() -> int:
        return count(app, "SELECT count(*) FROM acceptance_record WHERE reseller_id = :o", o=a_org)

    def status_is(record_id: int, status: str) -> Callable[[FlaskClient], None]:
        def check(_client: FlaskClient) -> None:
            assert world.record_status(record_id) == status

        return check

    if name == "login":

        def signed_in(client: FlaskClient) -> None:
            assert urlsplit(client.get("/").headers["Location"]).path == "/reseller/acceptances"

        email = EMAILS["reseller_submitter_a"]
        return FormCase(None, "/login", "/login", {"email": email, "password": PASSWORD}, signed_in)
    if name == "logout":
        email = EMAILS["reseller_submitter_a"]
        token = scalar(app, "SELECT session_token FROM user_account WHERE email = :e", e=email)

        def signed_out(client: FlaskClient) -> None:
            assert (
                scalar(app, "SELECT session_token FROM user_account WHERE email = :e", e=email)
                != token
            )
            assert urlsplit(client.get("/").headers["Location"]).path == "/login"

        return FormCase("reseller_submitter_a", "/account/password", "/logout", {}, signed_out)
    if name == "new acceptance":
        before = records_of_a()

        def submitted(_client: FlaskClient) -> None:
            assert records_of_a() == before + 1

        return FormCase(
            "reseller_submitter_a",
            "/reseller/acceptances/new",
            "/reseller/acceptances/new",
            acceptance_data(new_tenant()),
            submitted,
        )
    if name == "edit":
        made = world.record("a", RecordStatus.RETURNED)
        url = f"/reseller/acceptances/{made.public_id}/edit"
        return FormCase(
            "reseller_submitter_a",
            url,
            url,
            acceptance_data(made.tenant_id),
            status_is(made.id, "submitted"),
        )
    if name == "withdraw":
        made = world.record("a")
        return FormCase(
            "reseller_submitter_a",
            f"/reseller/acceptances/{made.public_id}",
            f"/reseller/acceptances/{made.public_id}/withdraw",
            {"reason": "Entered twice"},
            status_is(made.id, "withdrawn"),
        )
    if name == "new customer":
        links = "SELECT count(*) FROM customer_reseller WHERE reseller_id = :o"
        before = count(app, links, o=a_org)

        def linked(_client: FlaskClient) -> None:
            assert count(app, links, o=a_org) == before + 1

        data = acceptance_data(new_tenant())
        return FormCase(
            "reseller_submitter_a",
            "/reseller/customers/new",
            "/reseller/customers/new",
            {k: data[k] for k in ("tenant_id", "company_name", "domain", "cloud")},
            linked,
        )
    if name in ("approve", "reject", "return", "retry"):
        made = world.record("a", RecordStatus.FAILED if name == "retry" else RecordStatus.SUBMITTED)
        outcome = {"approve": "approved", "reject": "rejected", "return": "returned"}
        return FormCase(
            "provider_reviewer",
            f"/review/acceptances/{made.public_id}",
            f"/review/acceptances/{made.public_id}/{name}",
            {"reason": "Check the contact"} if name in ("reject", "return") else {},
            status_is(made.id, outcome.get(name, "approved")),
        )
    if name in ("reissue", "review reissue"):
        made = world.record("a", RecordStatus.EXPIRED)
        area = "reseller" if name == "reissue" else "review"
        return FormCase(
            "reseller_submitter_a" if name == "reissue" else "provider_reviewer",
            f"/{area}/acceptances/{made.public_id}",
            f"/{area}/acceptances/{made.public_id}/reissue",
            {},
            status_is(made.id, "approved"),
        )
    if name in ("attach evidence", "remove evidence"):
        made = world.record("a")
        files = "SELECT count(*) FROM evidence_file WHERE record_id = :r AND removed_at IS NULL"
        page = f"/reseller/acceptances/{made.public_id}"
        if name == "attach evidence":

            def attached(_client: FlaskClient) -> None:
                assert count(app, files, r=made.id) == 1

            pdf = (io.BytesIO(b"%PDF-1.4\n%%EOF\n"), "signed.pdf")
            return FormCase(
                "reseller_submitter_a", page, f"{page}/evidence", {"file": pdf}, attached
            )
        with app.app_context():
            session = get_session()
            file_id = evidence.attach(
                session,
                actor=load_users(session).a_submitter,
                record=session.get_one(AcceptanceRecord, made.id),
                filename="signed.pdf",
                content=b"%PDF-1.4\n%%EOF\n",
            ).public_id
            session.commit()

        def removed(_client: FlaskClient) -> None:
            assert count(app, files, r=made.id) == 0

        return FormCase(
            "reseller_submitter_a", page, f"{page}/evidence/{file_id}/remove", {}, removed
        )
    if name == "ask for acceptance":
        made = world.record("a")
        requests = "SELECT count(*) FROM acceptance_request"
        before = count(app, requests)

        def asked(_client: FlaskClient) -> None:
            assert count(app, requests) == before + 1

        return FormCase(
            "provider_admin",
            "/admin/acceptance-requests",
            "/admin/acceptance-requests",
            {"selection": "tenants", "tenant_ids": made.tenant_id, "message": "Please"},
            asked,
        )
    if name == "bulk approve":
        made = world.record("a")
        return FormCase(
            "provider_reviewer",
            "/review/?status=submitted",
            "/review/bulk-approve",
            {"record": [made.public_id]},
            status_is(made.id, "approved"),
        )
    if name == "create user":

        def created(_client: FlaskClient) -> None:
            assert count(app, "SELECT count(*) FROM user_account WHERE email = 'new@a.test'") == 1

        return FormCase(
            "reseller_admin_a",
            "/admin/users",
            "/admin/users",
            {
                "email": "new@a.test",
                "name": "New",
                "organization": str(a_org),
                "role": "reseller_submitter",
                "password": "a long passphrase for someone new",
            },
            created,
        )
    if name in ("disable user", "enable user"):
        enable = name == "enable user"
        user_id = world.user("a", active=enable is False)

        def switched(_client: FlaskClient) -> None:
            active = scalar(app, "SELECT active FROM user_account WHERE id = :u", u=user_id)
            assert bool(active) is enable

        return FormCase(
            "provider_admin",
            "/admin/users",
            f"/admin/users/{user_id}/{'enable' if enable else 'disable'}",
            {},
            switched,
        )
    if name == "change password":
        email = EMAILS["reseller_admin_a"]
        old = scalar(app, "SELECT password_hash FROM user_account WHERE email = :e", e=email)

        def changed(client: FlaskClient) -> None:
            now = scalar(app, "SELECT password_hash FROM user_account WHERE email = :e", e=email)
            assert now != old
            assert client.get("/account/password").status_code == 200

        return FormCase(
            "reseller_admin_a",
            "/account/password",
            "/account/password",
            {
                "current_password": PASSWORD,
                "new_password": NEW_PASSWORD,
                "confirm_password": NEW_PASSWORD,
            },
            changed,
        )
    raise AssertionError(name)


FORMS = [
    "login",
    "logout",
    "new acceptance",
    "edit",
    "withdraw",
    "new customer",
    "approve",
    "reject",
    "return",
    "retry",
    "bulk approve",
    "reissue",
    "review reissue",
    "ask for acceptance",
    "create user",
    "disable user",
    "enable user",
    "change password",
    "attach evidence",
    "remove evidence",
]


def browser_for(app: Flask, case: FormCase) -> FlaskClient:
    return sign_in(app, EMAILS[case.actor]) if case.actor else app.test_client()


def csrf_refused(response: TestResponse) -> None:
    assert response.status_code == 400, response.get_data(as_text=True)[:300]
    assert "The form expired or was sent from another site" in response.get_data(as_text=True)


@pytest.mark.parametrize("name", FORMS)
def test_a_post_without_a_token_is_refused_and_changes_nothing(
    app: Flask, enqueued: list[int], name: str
) -> None:
    case = form_case(app, name)
    browser = browser_for(app, case)
    browser.get(case.page)  # the session has a token of its own; the post does not carry it
    rows = snapshot(app)
    csrf_refused(browser.post(case.action, data=case.data))
    assert changed_tables(rows, snapshot(app)) == []
    assert enqueued == []


@pytest.mark.parametrize("name", FORMS)
def test_a_token_of_another_session_is_refused_and_changes_nothing(
    app: Flask, enqueued: list[int], name: str
) -> None:
    case = form_case(app, name)
    browser = browser_for(app, case)
    browser.get(case.page)
    stolen = foreign_token(app, case.page, case.action)
    rows = snapshot(app)
    csrf_refused(browser.post(case.action, data={**case.data, "csrf_token": stolen}))
    assert changed_tables(rows, snapshot(app)) == []
    assert enqueued == []


@pytest.mark.parametrize("name", FORMS)
def test_the_token_of_the_forms_own_page_works(app: Flask, name: str) -> None:
    case = form_case(app, name)
    browser = browser_for(app, case)
    token = scrape(browser, case.page, case.action)
    response = browser.post(case.action, data={**case.data, "csrf_token": token})
    assert response.status_code == 302, response.get_data(as_text=True)[:500]
    case.done(browser)


# --- no state change through GET ---------------------------------------------------------------


def get_urls(app: Flask, values: dict[str, Any]) -> list[str]:
    """Every rule (static files aside) filled in with existing objects, GET or not."""
    pattern = re.compile(r"<(?:[^<>]*:)?(\w+)>")
    urls = []
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        if rule.endpoint != "static":
            urls.append(pattern.sub(lambda m: str(values[m[1]]), rule.rule))
    return sorted(set(urls))


@pytest.mark.parametrize("actor", ["provider_admin", "reseller_admin_a"])
def test_no_get_changes_anything(app: Flask, enqueued: list[int], actor: str) -> None:
    world = World(app)
    submitted = world.record("a")
    returned = world.record("a", RecordStatus.RETURNED)
    failed = world.record("a", RecordStatus.FAILED)
    waiting = world.record("a", RecordStatus.AWAITING_CUSTOMER)
    lapsed = world.record("a", RecordStatus.EXPIRED)
    world.record("b")
    managed = world.user("a")
    browser = sign_in(app, EMAILS[actor])
    urls = []
    for made in (submitted, returned, failed, waiting, lapsed):
        values = {
            "public_id": made.public_id,
            "customer_id": made.customer_id,
            "tenant_id": made.tenant_id,
            "user_id": managed,
            "change": "disable",
            "confirmation_id": 1,
            "file_id": "0123456789abcdef0123456789abcdef",  # no such file: a 404 changes nothing
            "token_id": 999_999,  # no such API token: a 404 (and a GET there is a 405)
        }
        urls += get_urls(app, values)
    # The lists with every filter and a prefilled form, too.
    urls += [f"/reseller/acceptances?status={s.value}" for s in RecordStatus]
    urls += [f"/review/?status={s.value}&flagged=1" for s in RecordStatus]
    urls += [
        f"/reseller/acceptances/new?customer={submitted.customer_id}",
        "/admin/audit?action=acceptance",
        "/admin/audit.csv?action=user",
    ]
    changes = {}
    answers = {}
    for url in dict.fromkeys(urls):
        before = snapshot(app)
        response = browser.get(url)
        answers[url] = response.status_code
        changed = changed_tables(before, snapshot(app))
        if changed:
            changes[url] = changed
    assert changes == {}
    assert enqueued == []
    # Still signed in (no GET signed the user out), and POST-only URLs refuse a GET.
    assert browser.get("/account/password").status_code == 200
    assert answers["/logout"] == 405
    assert answers[f"/review/acceptances/{submitted.public_id}/approve"] == 405
    assert answers[f"/reseller/acceptances/{lapsed.public_id}/reissue"] == 405
    assert answers[f"/admin/users/{managed}/disable"] == 405


# --- the API: bearer tokens instead of CSRF tokens ---------------------------------------------


def test_the_api_takes_a_bearer_token_without_a_csrf_token(app: Flask) -> None:
    world = World(app)
    bearer = {"Authorization": f"Bearer {world.token(EMAILS['reseller_submitter_a'])}"}
    response = app.test_client().post("/api/v1/acceptances", json=submission(), headers=bearer)
    assert response.status_code == 201, response.get_json()


@pytest.mark.parametrize("actor", ["reseller_submitter_a", "provider_reviewer"])
def test_a_session_cookie_alone_does_not_open_the_api(
    app: Flask, enqueued: list[int], actor: str
) -> None:
    world = World(app)
    made = world.record("a")
    browser = sign_in(app, EMAILS[actor])
    assert browser.get("/account/password").status_code == 200  # the session works on the web
    rows = snapshot(app)
    calls: list[tuple[str, str, dict[str, Any]]] = [
        ("GET", "/api/v1/acceptances", {}),
        ("GET", f"/api/v1/acceptances/{made.public_id}", {}),
        ("POST", "/api/v1/acceptances", {"json": submission()}),
        ("POST", f"/api/v1/acceptances/{made.public_id}/approve", {}),
        ("POST", f"/api/v1/acceptances/{made.public_id}/reject", {"json": {"reason": "x"}}),
        ("POST", f"/api/v1/acceptances/{made.public_id}/return", {"json": {"reason": "x"}}),
    ]
    for method, url, kwargs in calls:
        response = browser.open(url, method=method, **kwargs)
        assert response.status_code == 401, (method, url, response.get_json())
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert changed_tables(rows, snapshot(app)) == []
    assert enqueued == []
