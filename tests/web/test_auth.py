"""Sign-in and sign-out: who gets in, where they land, and what a stolen cookie is worth."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlmodel import Session
from werkzeug.test import TestResponse

from tests.conftest import AppFactory, login
from tests.support import PASSWORD, Users

PUBLIC_PATHS = {"/login", "/healthz", "/readyz", "/language"}  # /language: the sign-in page too
PROVIDER_HOME = "/review/"
RESELLER_HOME = "/reseller/acceptances"
FAILED_MESSAGE = "Email or password is not right, or the account is locked for a while."


def web_routes(app: Flask) -> list[tuple[str, str]]:
    """(method, url) of every page and form action outside the API, with sample ids."""
    samples = {
        "public_id": "0123456789abcdef",
        "customer_id": 1,
        "user_id": 1,
        "change": "disable",
        "confirmation_id": 1,
        "token_id": 1,
        "file_id": 1,
    }
    routes: list[tuple[str, str]] = []
    adapter = app.url_map.bind("localhost")
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static" or rule.rule.startswith("/api/") or rule.rule in PUBLIC_PATHS:
            continue
        url = adapter.build(rule.endpoint, {k: samples[k] for k in rule.arguments})
        methods = sorted((rule.methods or set()) - {"HEAD", "OPTIONS"})
        routes.extend((method, url) for method in methods)
    return routes


def flash_messages(html: str) -> list[str]:
    return re.findall(r'<p class="flash flash-\w+">(.*?)</p>', html)


def lands_on_login(response: TestResponse) -> bool:
    location = response.headers.get("Location", "")
    return response.status_code == 302 and urlsplit(location).path == "/login"


def test_every_page_except_login_and_health_needs_sign_in(app: Flask, client: FlaskClient) -> None:
    routes = web_routes(app)
    urls = {url for _method, url in routes}
    # The sweep covers both areas and the sign-out action (it cannot silently be empty).
    assert {
        "/",
        "/logout",
        "/reseller/acceptances",
        "/reseller/acceptances/new",
        "/reseller/customers",
        "/review/",
        "/review/forwarding",
        "/review/bulk-approve",
        "/review/customers/1",
    } <= urls
    wrong = []
    for method, url in routes:
        response = client.open(url, method=method)
        location = urlsplit(response.headers.get("Location", ""))
        next_param = parse_qs(location.query).get("next")
        if response.status_code != 302 or location.path != "/login" or next_param != [url]:
            wrong.append((method, url, response.status_code, response.headers.get("Location")))
    assert wrong == []


@pytest.mark.parametrize("path", ["/login", "/healthz"])
def test_login_and_health_pages_are_public(client: FlaskClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 200


def test_readiness_is_public(client: FlaskClient) -> None:
    response = client.get("/readyz")
    assert response.status_code in (200, 503)
    assert response.get_json()["checks"]["database"] == "ok"


@pytest.mark.parametrize(
    ("email", "home"),
    [
        ("admin@provider.test", PROVIDER_HOME),
        ("reviewer@provider.test", PROVIDER_HOME),
        ("submitter@a.test", RESELLER_HOME),
        ("admin@b.test", RESELLER_HOME),
    ],
)
def test_sign_in_sends_each_role_to_its_area(
    users: Users, client: FlaskClient, email: str, home: str
) -> None:
    response = client.post("/login", data={"email": email, "password": PASSWORD})
    assert response.status_code == 302
    assert response.headers["Location"] == home
    assert client.get(home).status_code == 200
    assert client.get("/").headers["Location"] == home
    assert client.get("/login").headers["Location"] == home  # already signed in


def test_email_is_matched_case_insensitively(users: Users, client: FlaskClient) -> None:
    response = client.post("/login", data={"email": " Submitter@A.TEST ", "password": PASSWORD})
    assert response.status_code == 302
    assert response.headers["Location"] == RESELLER_HOME


def test_wrong_password_and_unknown_email_look_the_same(users: Users, client: FlaskClient) -> None:
    wrong_password = client.post(
        "/login", data={"email": "submitter@a.test", "password": "not the password"}
    )
    unknown_email = client.post("/login", data={"email": "nobody@a.test", "password": PASSWORD})
    assert wrong_password.status_code == unknown_email.status_code == 401
    assert flash_messages(wrong_password.get_data(as_text=True)) == [FAILED_MESSAGE]
    assert flash_messages(unknown_email.get_data(as_text=True)) == [FAILED_MESSAGE]
    assert lands_on_login(client.get(RESELLER_HOME))


def test_disabled_user_cannot_sign_in(users: Users, client: FlaskClient) -> None:
    response = client.post("/login", data={"email": "disabled@a.test", "password": PASSWORD})
    assert response.status_code == 401
    assert flash_messages(response.get_data(as_text=True)) == [FAILED_MESSAGE]
    assert lands_on_login(client.get(RESELLER_HOME))


def test_five_wrong_passwords_lock_the_account(
    db: Session, users: Users, client: FlaskClient
) -> None:
    for _ in range(5):
        response = client.post("/login", data={"email": "submitter@a.test", "password": "nope"})
        assert response.status_code == 401
    response = client.post("/login", data={"email": "submitter@a.test", "password": PASSWORD})
    assert response.status_code == 401
    assert flash_messages(response.get_data(as_text=True)) == [FAILED_MESSAGE]
    assert lands_on_login(client.get(RESELLER_HOME))
    db.expire_all()
    assert users.a_submitter.locked_until is not None
    # Only that account: a colleague still signs in.
    login(client, "admin@a.test")


def test_four_wrong_passwords_do_not_lock_and_success_resets_the_count(
    db: Session, users: Users, client: FlaskClient
) -> None:
    for _ in range(4):
        client.post("/login", data={"email": "submitter@a.test", "password": "nope"})
    login(client, "submitter@a.test")
    db.expire_all()
    assert users.a_submitter.failed_logins == 0
    assert users.a_submitter.locked_until is None


def test_logout_is_post_only(users: Users, client: FlaskClient) -> None:
    login(client, "submitter@a.test")
    assert client.get("/logout").status_code == 405
    assert client.get(RESELLER_HOME).status_code == 200  # still signed in


@pytest.mark.parametrize("remember", [False, True])
def test_copy_of_the_cookies_stops_working_after_logout(
    app: Flask, users: Users, client: FlaskClient, remember: bool
) -> None:
    data = {"email": "submitter@a.test", "password": PASSWORD}
    if remember:
        data["remember"] = "y"
    assert client.post("/login", data=data).status_code == 302
    session_cookie = app.config["SESSION_COOKIE_NAME"]
    remember_cookie = app.config["REMEMBER_COOKIE_NAME"]
    saved = {
        name: cookie.value
        for name in (session_cookie, remember_cookie)
        if (cookie := client.get_cookie(name)) is not None
    }
    assert session_cookie in saved
    assert (remember_cookie in saved) is remember

    def copy() -> FlaskClient:
        other = app.test_client()
        for name, value in saved.items():
            other.set_cookie(name, value)
        return other

    assert copy().get(RESELLER_HOME).status_code == 200  # the copy works while signed in

    response = client.post("/logout")
    assert lands_on_login(response)
    assert lands_on_login(client.get(RESELLER_HOME))
    assert lands_on_login(copy().get(RESELLER_HOME))


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("/reseller/customers", "/reseller/customers"),
        ("/reseller/acceptances?status=returned", "/reseller/acceptances?status=returned"),
        ("https://evil.example/", RESELLER_HOME),
        ("//evil.example", RESELLER_HOME),
        ("/\\evil", RESELLER_HOME),
        ("/\t/evil.example", RESELLER_HOME),
        ("javascript:alert(1)", RESELLER_HOME),
        ("evil.example/reseller", RESELLER_HOME),
    ],
)
def test_next_is_followed_only_for_same_site_paths(
    users: Users, client: FlaskClient, target: str, expected: str
) -> None:
    response = client.post(
        "/login",
        query_string={"next": target},
        data={"email": "submitter@a.test", "password": PASSWORD},
    )
    assert response.status_code == 302
    assert response.headers["Location"] == expected


def test_sign_in_after_the_login_redirect_returns_to_the_page(
    users: Users, client: FlaskClient
) -> None:
    first = client.get("/reseller/customers")
    assert lands_on_login(first)
    response = client.post(
        first.headers["Location"], data={"email": "submitter@a.test", "password": PASSWORD}
    )
    assert response.headers["Location"] == "/reseller/customers"


def test_forms_need_a_csrf_token_when_protection_is_on(
    make_app: AppFactory, sqlite_url: str
) -> None:
    protected = make_app(sqlite_url, WTF_CSRF_ENABLED=True)
    response = protected.test_client().post(
        "/login", data={"email": "submitter@a.test", "password": PASSWORD}
    )
    assert response.status_code == 400
    assert "The form expired or was sent from another site." in response.get_data(as_text=True)
