"""API tokens in the web (R16): list, create with the secret shown once, revoke at once."""

from __future__ import annotations

import html
import re

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlmodel import Session, col, select

from app.models import ApiToken, AuditEvent, User
from app.services.users import create_api_token
from tests.conftest import AppFactory
from tests.support import PASSWORD, Users
from tests.web.conftest import signed_in

SECRET = re.compile(r'id="new-token"[^>]*value="(ipt_[^"]+)"')
CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]*)"')


def page(response: object) -> str:
    return html.unescape(response.get_data(as_text=True))  # type: ignore[attr-defined]


def api_status(client: FlaskClient, secret: str) -> int:
    response = client.get("/api/v1/acceptances", headers={"Authorization": f"Bearer {secret}"})
    return response.status_code


def make_token(db: Session, user: User, label: str) -> tuple[int, str]:
    token, secret = create_api_token(db, actor=None, user=user, label=label)
    db.commit()
    return token.id or 0, secret


def tokens_of(db: Session, user: User) -> list[ApiToken]:
    db.expire_all()
    rows = db.exec(select(ApiToken).where(ApiToken.user_id == user.id).order_by(col(ApiToken.id)))
    result = list(rows)
    db.rollback()  # end the read, so that the app may write
    return result


def events(db: Session, action: str) -> list[AuditEvent]:
    db.expire_all()
    result = list(db.exec(select(AuditEvent).where(AuditEvent.action == action)))
    db.rollback()
    return result


def create(client: FlaskClient, label: str) -> tuple[int, str]:
    response = client.post("/account/tokens", data={"label": label})
    return response.status_code, page(response)


# --- creating ----------------------------------------------------------------------------------


def test_a_new_token_is_shown_once_with_a_copy_button_and_works_against_the_api(
    db: Session, users: Users, client_a: FlaskClient, client: FlaskClient
) -> None:
    status, shown = create(client_a, "  ERP connector  ")
    assert status == 201
    secret = SECRET.search(shown)
    assert secret is not None, shown[:2000]
    assert 'data-copy="new-token"' in shown
    assert "this is the only time it is shown" in shown
    assert "Your new token “ERP connector”" in shown

    [row] = tokens_of(db, users.a_submitter)
    assert row.label == "ERP connector"
    assert secret[1].startswith(row.prefix)
    # Only a hash is kept: the secret is nowhere in the database row.
    assert secret[1] not in (row.token_hash, row.prefix, row.label)
    assert api_status(client, secret[1]) == 200

    # The list afterwards shows the token's beginning, never the secret again.
    later = page(client_a.get("/account/tokens"))
    assert secret[1] not in later
    assert f"{row.prefix}…" in later
    assert "ERP connector" in later

    [event] = events(db, "api_token.created")
    assert event.actor_user_id == users.a_submitter.id
    assert event.details["label"] == "ERP connector"
    assert secret[1] not in str(event.details)


@pytest.mark.parametrize(
    ("label", "message"),
    [
        ("", "Give the token a label of 1 to 100 characters."),
        ("    ", "Give the token a label of 1 to 100 characters."),
        ("x" * 101, "Give the token a label of 1 to 100 characters."),
    ],
)
def test_a_label_is_required_and_at_most_100_characters(
    db: Session, users: Users, client_a: FlaskClient, label: str, message: str
) -> None:
    status, shown = create(client_a, label)
    assert status == 422
    assert message in shown
    assert SECRET.search(shown) is None
    assert tokens_of(db, users.a_submitter) == []
    assert events(db, "api_token.created") == []


def test_a_label_of_100_characters_is_accepted(
    db: Session, users: Users, client_a: FlaskClient
) -> None:
    status, _shown = create(client_a, "y" * 100)
    assert status == 201
    assert [t.label for t in tokens_of(db, users.a_submitter)] == ["y" * 100]


@pytest.mark.parametrize("who", ["reviewer", "provider_admin", "a_admin", "b_submitter"])
def test_every_role_may_hold_tokens_of_its_own(
    app: Flask, db: Session, users: Users, client: FlaskClient, who: str
) -> None:
    user = getattr(users, who)
    status, shown = create(signed_in(app, user.email), "Own system")
    assert status == 201
    secret = SECRET.search(shown)
    assert secret is not None
    assert [t.user_id for t in tokens_of(db, user)] == [user.id]
    # What the token may do is the role's: a reviewer lists (200), it does not submit (403).
    assert api_status(client, secret[1]) == 200
    if user.is_provider:
        response = client.post(
            "/api/v1/acceptances", json={}, headers={"Authorization": f"Bearer {secret[1]}"}
        )
        assert response.status_code == 403


# --- listing -----------------------------------------------------------------------------------


def test_the_list_shows_only_the_users_own_tokens_with_their_use(
    db: Session, users: Users, client_a: FlaskClient, client: FlaskClient
) -> None:
    _id, mine = make_token(db, users.a_submitter, "Billing")
    make_token(db, users.a_admin, "Colleague's script")
    make_token(db, users.b_submitter, "Other reseller's ERP")

    before = page(client_a.get("/account/tokens"))
    assert "Billing" in before
    assert "Never" in before  # not used yet
    assert "Colleague's script" not in before
    assert "Other reseller's ERP" not in before
    assert "API tokens" in before  # the navigation link

    assert api_status(client, mine) == 200
    [row] = tokens_of(db, users.a_submitter)
    assert row.last_used_at is not None
    after = page(client_a.get("/account/tokens"))
    assert "Never" not in after


def test_an_admin_sees_and_revokes_the_tokens_of_its_own_organization_only(
    app: Flask, db: Session, users: Users, client: FlaskClient
) -> None:
    colleague, secret = make_token(db, users.a_submitter, "Submitter's ERP")
    other, other_secret = make_token(db, users.b_submitter, "Other reseller's ERP")
    admin = signed_in(app, users.a_admin.email)

    shown = page(admin.get("/account/tokens"))
    assert "Submitter's ERP" in shown
    assert users.a_submitter.email in shown  # the owner column appears for an admin
    assert "Other reseller's ERP" not in shown

    assert admin.post(f"/account/tokens/{colleague}/revoke").status_code == 302
    assert api_status(client, secret) == 401
    assert admin.post(f"/account/tokens/{other}/revoke").status_code == 404
    assert api_status(client, other_secret) == 200
    [event] = events(db, "api_token.revoked")
    assert event.actor_user_id == users.a_admin.id


# --- revoking ----------------------------------------------------------------------------------


def test_revoking_stops_the_token_at_once_and_is_audited(
    db: Session, users: Users, client_a: FlaskClient, client: FlaskClient
) -> None:
    token_id, secret = make_token(db, users.a_submitter, "Old ERP")
    keep_id, kept = make_token(db, users.a_submitter, "New ERP")
    assert api_status(client, secret) == 200

    response = client_a.post(f"/account/tokens/{token_id}/revoke")
    assert response.status_code == 302
    assert response.headers["Location"] == "/account/tokens"
    assert api_status(client, secret) == 401
    assert api_status(client, kept) == 200  # only that one

    shown = page(client_a.get("/account/tokens"))
    assert "Token “Old ERP” revoked." in shown
    assert "Revoked " in shown
    # No revoke button for a revoked token; the active one keeps its own.
    assert f"/account/tokens/{token_id}/revoke" not in shown
    assert f"/account/tokens/{keep_id}/revoke" in shown

    [event] = events(db, "api_token.revoked")
    assert (event.actor_user_id, event.subject_id) == (users.a_submitter.id, str(token_id))
    # Revoking again changes nothing and writes no second event.
    assert client_a.post(f"/account/tokens/{token_id}/revoke").status_code == 302
    assert len(events(db, "api_token.revoked")) == 1


@pytest.mark.parametrize("owner", ["a_admin", "b_submitter", "reviewer"])
def test_another_users_token_answers_404_and_keeps_working(
    db: Session, users: Users, client_a: FlaskClient, client: FlaskClient, owner: str
) -> None:
    token_id, secret = make_token(db, getattr(users, owner), "Not yours")
    missing = client_a.post("/account/tokens/999999/revoke")
    response = client_a.post(f"/account/tokens/{token_id}/revoke")
    assert response.status_code == missing.status_code == 404
    assert api_status(client, secret) == 200
    assert events(db, "api_token.revoked") == []


@pytest.fixture
def csrf_app(make_app: AppFactory, sqlite_url: str) -> Flask:
    """The portal with CSRF protection on."""
    return make_app(sqlite_url, WTF_CSRF_ENABLED=True)


def test_revoking_and_creating_need_the_forms_csrf_token(csrf_app: Flask) -> None:
    browser = csrf_app.test_client()
    token = CSRF.search(browser.get("/login").get_data(as_text=True))
    assert token is not None
    browser.post(
        "/login",
        data={"email": "submitter@a.test", "password": PASSWORD, "csrf_token": token[1]},
    )
    with csrf_app.app_context():
        from app.db import get_session

        session = get_session()
        user = session.exec(select(User).where(User.email == "submitter@a.test")).one()
        token_id, secret = make_token(session, user, "CSRF check")
    api = csrf_app.test_client()

    assert browser.post(f"/account/tokens/{token_id}/revoke").status_code == 400
    assert browser.post("/account/tokens", data={"label": "Forged"}).status_code == 400
    assert api_status(api, secret) == 200

    form = CSRF.search(browser.get("/account/tokens").get_data(as_text=True))
    assert form is not None
    response = browser.post(f"/account/tokens/{token_id}/revoke", data={"csrf_token": form[1]})
    assert response.status_code == 302
    assert api_status(api, secret) == 401
