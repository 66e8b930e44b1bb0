"""Sign-in and sign-out, and the home page that sends each role to its area."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required, login_user, logout_user
from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, PasswordField
from wtforms.validators import DataRequired, Length

from app.db import get_session
from app.security.permissions import actor
from app.security.throttling import login_limits, mark_signed_in
from app.services.users import authenticate, end_sessions

bp = Blueprint("auth", __name__)


class LoginForm(FlaskForm):
    """Email and password."""

    email = EmailField(_l("Email"), validators=[DataRequired(), Length(max=254)])
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(max=256)])
    remember = BooleanField(_l("Keep me signed in on this device (14 days)"))


class LogoutForm(FlaskForm):
    """A POST-only button, so a link elsewhere cannot sign anyone out."""


def safe_next(target: str | None) -> str | None:
    """`target` when it is a path on this site, else None (no open redirects)."""
    # Only same-site paths: no scheme, no host, no protocol-relative or backslash tricks.
    if not target or not target.startswith("/") or target.startswith(("//", "/\\")):
        return None
    parts = urlsplit(target)
    return target if not parts.scheme and not parts.netloc else None


def home_for(role_is_provider: bool) -> str:
    """The landing page of a role's area."""
    return url_for("review.queue") if role_is_provider else url_for("reseller.acceptances")


@bp.get("/")
@login_required
def home() -> Any:
    """Send the user to their area."""
    return redirect(home_for(actor().is_provider))


@bp.route("/login", methods=["GET", "POST"])
@login_limits[0]
@login_limits[1]
def login() -> Any:
    """Sign in with email and password."""
    if current_user.is_authenticated:
        return redirect(home_for(actor().is_provider))
    form = LoginForm()
    if form.validate_on_submit():
        db = get_session()
        user = authenticate(db, email=form.email.data or "", password=form.password.data or "")
        db.commit()  # the failed-attempt counter counts too
        if user is None:
            flash(
                _("Email or password is not right, or the account is locked for a while."), "error"
            )
            return render_template("auth/login.html", form=form), 401
        session.clear()  # a new session at sign-in
        login_user(user, remember=bool(form.remember.data))
        mark_signed_in()
        return redirect(safe_next(request.args.get("next")) or home_for(user.is_provider))
    return render_template("auth/login.html", form=form)


@bp.post("/logout")
@login_required
def logout() -> Any:
    """Sign out everywhere: the session token rotates, so copies of the cookie stop working."""
    form = LogoutForm()
    if form.validate_on_submit():
        db = get_session()
        end_sessions(db, user=actor())
        db.commit()
    logout_user()
    session.clear()
    flash(_("You are signed out."), "info")
    return redirect(url_for("auth.login"))
