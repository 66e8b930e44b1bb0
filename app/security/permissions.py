"""Role gates for views and the API, and Flask-Login's user loading."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from functools import wraps
from typing import Any, TypeVar, cast

from flask import abort, g, jsonify, request
from flask_babel import gettext
from flask_login import current_user

from app.db import get_session
from app.extensions import login_manager
from app.markers import N_
from app.models import Role, User
from app.services.users import user_for_api_token, user_for_session

F = TypeVar("F", bound=Callable[..., Any])


def init_login() -> None:
    """Configure Flask-Login: the session holds the user's rotating session token."""
    login_manager.login_view = "auth.login"
    login_manager.login_message = N_("Please sign in to continue.")
    login_manager.localize_callback = gettext  # shown in the reader's language
    login_manager.login_message_category = "info"
    login_manager.session_protection = "strong"

    @login_manager.user_loader
    def _load(token: str) -> User | None:
        return user_for_session(get_session(), token)


def forget_api_user(_exc: BaseException | None) -> None:
    """The API user belongs to one request only."""
    g.pop("api_user", None)


def actor() -> User:
    """The signed-in user of this request (web session or API token)."""
    user = g.get("api_user")
    if user is not None:
        return cast(User, user)
    return cast(User, current_user._get_current_object())


def roles_required(*roles: Role) -> Callable[[F], F]:
    """A web view decorator: sign-in required, and one of `roles` (403 page otherwise)."""
    allowed = frozenset(roles)

    def decorate(view: F) -> F:
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if not current_user.is_authenticated:
                return login_manager.unauthorized()
            if Role(current_user.role) not in allowed:
                abort(403)
            return view(*args, **kwargs)

        return cast(F, wrapper)

    return decorate


def _api_error(status: int, message: str) -> Any:
    response = jsonify({"error": message})
    response.status_code = status
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="intake"'
    return response


def api_roles_required(roles: Iterable[Role]) -> Callable[[F], F]:
    """An API view decorator: a valid bearer token (401) of a user with one of `roles` (403)."""
    allowed = frozenset(roles)

    def decorate(view: F) -> F:
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            header = request.headers.get("Authorization", "")
            scheme, _, secret = header.partition(" ")
            if scheme.lower() != "bearer" or not secret.strip():
                return _api_error(401, "Send a valid API token: Authorization: Bearer <token>.")
            session = get_session()
            user = user_for_api_token(session, secret.strip())
            if user is None:
                return _api_error(401, "The API token is invalid, revoked, or its user disabled.")
            if session.dirty:
                # Keep the token's "last used" (at most one write a minute) even when the view
                # only reads and commits nothing; nothing else is in this transaction yet.
                session.commit()
            if Role(user.role) not in allowed:
                return _api_error(403, "Your role does not allow this.")
            g.api_user = user
            return view(*args, **kwargs)

        return cast(F, wrapper)

    return decorate
