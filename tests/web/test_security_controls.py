"""Headers, cookies, hosts, sessions, sign-in throttling and the password policy."""

from __future__ import annotations

import statistics
import time

import pytest
from argon2 import PasswordHasher
from flask import Flask
from flask.testing import FlaskClient
from sqlmodel import Session

from app.config import ConfigError
from app.models import User
from app.security.headers import HEADERS
from app.security.passwords import password_problem
from app.security.throttling import LOGIN_AT
from app.services.users import set_active
from tests.conftest import AppFactory, login
from tests.support import PASSWORD, Users, reread


def _assert_secure_headers(response: object) -> None:
    headers = response.headers  # type: ignore[attr-defined]
    for name, value in HEADERS.items():
        assert headers.get(name) == value, name
    csp = headers["Content-Security-Policy"]
    assert "object-src 'none'" in csp
    assert "base-uri 'none'" in csp
    assert "frame-ancestors 'none'" in csp


def test_headers_on_pages_errors_and_api(app: Flask, client: FlaskClient, users: Users) -> None:
    @app.get("/_boom")
    def _boom() -> str:
        raise RuntimeError("internal detail that must not leak")

    for path, status in (("/login", 200), ("/nowhere", 404), ("/api/v1/acceptances", 401)):
        response = client.get(path)
        assert response.status_code == status
        _assert_secure_headers(response)
        assert response.headers["Cache-Control"] == "no-store"
    login(client, users.a_submitter.email)
    page = client.get("/reseller/acceptances")
    assert page.headers["Cache-Control"] == "no-store"
    _assert_secure_headers(page)
    boom = client.get("/_boom")
    assert boom.status_code == 500
    _assert_secure_headers(boom)
    assert b"internal detail" not in boom.data
    assert b"Traceback" not in boom.data


def test_static_files_may_be_cached_but_keep_the_headers(client: FlaskClient) -> None:
    response = client.get("/static/app.css")
    assert response.status_code == 200
    assert response.headers.get("Cache-Control") != "no-store"
    _assert_secure_headers(response)
    response.close()


def test_unknown_host_is_refused(make_app: AppFactory, sqlite_url: str) -> None:
    app = make_app(sqlite_url, TRUSTED_HOSTS="portal.example")
    client = app.test_client()
    assert client.get("/login", headers={"Host": "portal.example"}).status_code == 200
    assert client.get("/login", headers={"Host": "evil.example"}).status_code == 400


def test_production_cookies_are_host_only_secure_and_http_only(
    make_app: AppFactory, sqlite_url: str
) -> None:
    app = make_app(sqlite_url, ENV="production", TRUSTED_HOSTS="localhost")
    client = app.test_client()
    response = client.post(
        "/login",
        data={"email": "submitter@a.test", "password": PASSWORD, "remember": "y"},
        base_url="https://localhost",
    )
    assert response.status_code == 302
    cookies = response.headers.getlist("Set-Cookie")
    session_cookie = next(c for c in cookies if c.startswith("__Host-intake-session="))
    remember_cookie = next(c for c in cookies if c.startswith("__Host-intake-remember="))
    for cookie in (session_cookie, remember_cookie):
        assert "Secure" in cookie
        assert "HttpOnly" in cookie
        assert "SameSite=Lax" in cookie
        assert "Path=/" in cookie
        assert "Domain=" not in cookie
    # Remember-me lasts 14 days at most.
    assert "Max-Age=1209600" in remember_cookie or "Expires=" in remember_cookie


def test_production_refuses_debug(make_app: AppFactory, sqlite_url: str) -> None:
    with pytest.raises(ConfigError, match="debug"):
        make_app(sqlite_url, ENV="production", TRUSTED_HOSTS="localhost", DEBUG=True)


def test_session_is_renewed_at_sign_in(app: Flask, client: FlaskClient, users: Users) -> None:
    client.get("/login")  # an anonymous session (CSRF token) exists
    with client.session_transaction() as before:
        before["planted"] = "by an attacker"
    login(client, users.a_submitter.email)
    with client.session_transaction() as after:
        assert "planted" not in after
        assert LOGIN_AT in after


def test_password_change_ends_other_sessions_but_not_this_one(
    app: Flask, users: Users, db: Session
) -> None:
    old_hash = users.a_submitter.password_hash
    mine, other = app.test_client(), app.test_client()
    login(mine, users.a_submitter.email)
    login(other, users.a_submitter.email)
    new_password = "a brand new phrase 2026"
    response = mine.post(
        "/account/password",
        data={
            "current_password": PASSWORD,
            "new_password": new_password,
            "confirm_password": new_password,
        },
    )
    assert response.status_code == 302
    assert mine.get("/reseller/acceptances").status_code == 200
    assert other.get("/reseller/acceptances").status_code == 302  # back to sign-in
    assert reread(db, User, users.a_submitter.id).password_hash != old_hash


def test_weak_new_password_is_refused(app: Flask, users: Users) -> None:
    client = app.test_client()
    login(client, users.a_submitter.email)
    response = client.post(
        "/account/password",
        data={
            "current_password": PASSWORD,
            "new_password": "password123456",
            "confirm_password": "password123456",
        },
    )
    assert response.status_code == 422
    assert b"too common" in response.data


def test_disabling_a_user_ends_its_sessions_at_once(app: Flask, users: Users, db: Session) -> None:
    client = app.test_client()
    login(client, users.a_submitter.email)
    set_active(db, actor=users.a_admin, user=users.a_submitter, active=False)
    db.commit()
    assert client.get("/reseller/acceptances").status_code == 302


def test_sessions_end_after_the_absolute_limit(app: Flask, users: Users) -> None:
    client = app.test_client()
    login(client, users.a_submitter.email)
    with client.session_transaction() as session:
        session[LOGIN_AT] = "2020-01-01T00:00:00+00:00"
    response = client.get("/reseller/acceptances")
    assert response.status_code == 302
    assert "/login" in response.headers["Location"]
    assert client.get("/reseller/acceptances").status_code == 302


def test_failed_sign_ins_are_throttled_per_account(make_app: AppFactory, sqlite_url: str) -> None:
    app = make_app(sqlite_url, LOGIN_LIMIT_PER_ACCOUNT="3 per minute")
    client = app.test_client()
    for _ in range(3):
        bad = client.post("/login", data={"email": "admin@a.test", "password": "wrong wrong"})
        assert bad.status_code == 401
    blocked = client.post("/login", data={"email": "admin@a.test", "password": PASSWORD})
    assert blocked.status_code == 429
    assert b"Too many failed sign-ins" in blocked.data
    # Another account from the same address is not blocked by this one's failures.
    assert (
        client.post("/login", data={"email": "submitter@a.test", "password": PASSWORD}).status_code
        == 302
    )


def test_failed_sign_ins_are_throttled_per_address(make_app: AppFactory, sqlite_url: str) -> None:
    app = make_app(sqlite_url, LOGIN_LIMIT_PER_ADDRESS="4 per minute")
    client = app.test_client()
    for n in range(4):
        assert (
            client.post(
                "/login", data={"email": f"nobody{n}@x.example", "password": "x"}
            ).status_code
            == 401
        )
    assert (
        client.post("/login", data={"email": "submitter@a.test", "password": PASSWORD}).status_code
        == 429
    )


def test_unknown_email_and_wrong_password_take_similar_time(app: Flask, users: Users) -> None:
    client = app.test_client()

    def median_seconds(email: str) -> float:
        times = []
        for _ in range(5):
            started = time.perf_counter()
            client.post("/login", data={"email": email, "password": "not the password"})
            times.append(time.perf_counter() - started)
        return statistics.median(times)

    known = median_seconds(users.b_admin.email)
    unknown = median_seconds("nobody@nowhere.example")
    assert 0.5 < known / unknown < 2.0


def test_old_password_hashes_are_upgraded_at_sign_in(app: Flask, db: Session, users: Users) -> None:
    weak = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1).hash(PASSWORD)
    users.b_submitter.password_hash = weak
    db.commit()
    login(app.test_client(), users.b_submitter.email)
    upgraded = reread(db, User, users.b_submitter.id).password_hash
    assert upgraded != weak
    assert PasswordHasher().check_needs_rehash(upgraded) is False


@pytest.mark.parametrize(
    ("password", "problem"),
    [
        ("short", "at least 10"),
        ("password123", "too common"),
        ("aaaaaaaaaaaaaa", "too common"),
        ("minji.kim-secret-2026", "email"),
        ("x" * 300, "at most"),
    ],
)
def test_password_policy(password: str, problem: str) -> None:
    assert problem in (password_problem(password, email="minji.kim@contoso.example") or "")


def test_long_unusual_password_is_fine() -> None:
    assert password_problem("seven blue 감자 on a quiet Tuesday") is None
