"""The signed-in user's own account: password, language and time zone; the language switch."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, make_response, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required, login_user
from flask_wtf import FlaskForm
from wtforms import HiddenField, PasswordField, SelectField
from wtforms.fields.choices import SelectChoice

from app.db import get_session
from app.i18n import COOKIE, LANGUAGES, refresh_language
from app.security.permissions import actor
from app.security.throttling import mark_signed_in
from app.services.users import change_password, set_preferences
from app.web.auth import safe_next
from app.web.helpers import attempt

bp = Blueprint("account", __name__)


class PasswordForm(FlaskForm):
    """Current and new password (the policy is checked by the service)."""

    current_password = PasswordField(_l("Current password"))
    new_password = PasswordField(
        _l("New password"), description=_l("At least 10 characters; not a common password.")
    )
    confirm_password = PasswordField(_l("New password again"))


@bp.route("/account/password", methods=["GET", "POST"])
@login_required
def password() -> Any:
    """Change your password; your other sessions end, this one continues."""
    form = PasswordForm()
    if form.validate_on_submit():
        if form.new_password.data != form.confirm_password.data:
            form.confirm_password.errors = [_("The two new passwords differ.")]
        else:
            user = actor()
            done = attempt(
                lambda: change_password(
                    get_session(),
                    user=user,
                    current=form.current_password.data or "",
                    new=form.new_password.data or "",
                ),
                form=form,
                paths={
                    "current_password": "current_password",
                    "new_password": "new_password",
                },
            )
            if done:
                login_user(user)  # this session takes the new session token
                mark_signed_in()
                flash(_("Password changed. Your other sessions are signed out."), "success")
                return redirect(url_for("auth.home"))
    status = 422 if request.method == "POST" else 200
    return render_template("account/password.html", form=form), status


# The zones most of our users are in first; any IANA zone is accepted.
COMMON_TIME_ZONES = (
    "Asia/Seoul",
    "UTC",
    "Asia/Tokyo",
    "Asia/Singapore",
    "Europe/London",
    "America/New_York",
    "America/Los_Angeles",
)


class PreferencesForm(FlaskForm):
    """The language pages are shown in and the time zone times are shown in."""

    locale = SelectField(
        _l("Language"),
        choices=[
            SelectChoice("", _l("As my browser asks")),
            *(SelectChoice(code, name) for code, name in LANGUAGES.items()),
        ],
    )
    time_zone = SelectField(_l("Time zone"))


class LanguageForm(FlaskForm):
    """The language switch in the page header (also on the sign-in page)."""

    language = HiddenField()
    next = HiddenField()


@bp.route("/account/preferences", methods=["GET", "POST"])
@login_required
def preferences() -> Any:
    """Choose your language and time zone; remembered for your next visits."""
    from zoneinfo import available_timezones

    user = actor()
    form = PreferencesForm(obj=None if request.method == "POST" else user)
    others = sorted(available_timezones() - set(COMMON_TIME_ZONES))
    form.time_zone.choices = [SelectChoice("", _l("My language's usual zone"))] + [
        SelectChoice(zone, zone) for zone in (*COMMON_TIME_ZONES, *others)
    ]
    if form.validate_on_submit():
        done = attempt(
            lambda: set_preferences(
                get_session(), user=user, locale=form.locale.data, time_zone=form.time_zone.data
            ),
            form=form,
            paths={"locale": "locale", "time_zone": "time_zone"},
        )
        if done:
            refresh_language()  # this very response already speaks the new language
            flash(_("Preferences saved."), "success")
            return redirect(url_for(".preferences"))
    status = 422 if request.method == "POST" else 200
    return render_template("account/preferences.html", form=form), status


@bp.post("/language")
def switch_language() -> Any:
    """Switch the language: remembered in a cookie, and on your account when signed in."""
    form = LanguageForm()
    target = safe_next(form.next.data) or url_for("auth.home")
    language = form.language.data
    if not form.validate_on_submit() or language not in LANGUAGES:
        return redirect(target)
    if current_user.is_authenticated:
        user = actor()
        attempt(
            lambda: set_preferences(
                get_session(), user=user, locale=language, time_zone=user.time_zone
            ),
            form=form,
            paths={},
        )
    response = make_response(redirect(target))
    response.set_cookie(
        COOKIE, language, max_age=365 * 24 * 3600, httponly=True, samesite="Lax", path="/"
    )
    return response


# API tokens live in their own module on this blueprint (imported last: it needs `bp`).
from app.web.account import tokens  # noqa: E402, F401
