"""The signed-in user's own account: change the password."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import login_required, login_user
from flask_wtf import FlaskForm
from wtforms import PasswordField

from app.db import get_session
from app.security.permissions import actor
from app.security.throttling import mark_signed_in
from app.services.users import change_password
from app.web.helpers import attempt

bp = Blueprint("account", __name__)


class PasswordForm(FlaskForm):
    """Current and new password (the policy is checked by the service)."""

    current_password = PasswordField("Current password")
    new_password = PasswordField(
        "New password", description="At least 10 characters; not a common password."
    )
    confirm_password = PasswordField("New password again")


@bp.route("/account/password", methods=["GET", "POST"])
@login_required
def password() -> Any:
    """Change your password; your other sessions end, this one continues."""
    form = PasswordForm()
    if form.validate_on_submit():
        if form.new_password.data != form.confirm_password.data:
            form.confirm_password.errors = ["The two new passwords differ."]
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
                flash("Password changed. Your other sessions are signed out.", "success")
                return redirect(url_for("auth.home"))
    status = 422 if request.method == "POST" else 200
    return render_template("account/password.html", form=form), status
