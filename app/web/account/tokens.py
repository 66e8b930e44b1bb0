"""API tokens in the web (R16): list, create (the secret shown once), revoke.

Every role may hold tokens of its own; an admin also sees and revokes its organization's
users' tokens. Another organization's token answers 404, like a missing one.
"""

from __future__ import annotations

from typing import Any

from flask import flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import login_required
from flask_wtf import FlaskForm
from wtforms import StringField

from app.db import get_session
from app.models import ApiToken
from app.security.permissions import actor
from app.services.users import create_api_token, list_api_tokens, revoke_api_token
from app.web.account import bp
from app.web.helpers import attempt

LABEL_MAX = 100


class TokenForm(FlaskForm):
    """A new token's label (checked by the service: required, at most 100 characters)."""

    label = StringField(
        _l("Label"),
        description=_l("What the token is for, e.g. the system that uses it (ERP, billing)."),
        render_kw={"maxlength": LABEL_MAX, "autocomplete": "off"},
    )


class RevokeForm(FlaskForm):
    """The CSRF token of a revoke button."""


def _page(
    form: TokenForm, *, status: int = 200, created: tuple[ApiToken, str] | None = None
) -> Any:
    user = actor()
    rows = list_api_tokens(get_session(), actor=user)
    return (
        render_template(
            "account/tokens.html",
            form=form,
            revoke_form=RevokeForm(),
            rows=rows,
            created=created,
            others=any(owner.id != user.id for _token, owner in rows),
        ),
        status,
    )


@bp.get("/account/tokens")
@login_required
def tokens() -> Any:
    """Your API tokens (and, for an admin, your organization's): label, prefix, use, state."""
    return _page(TokenForm())


@bp.post("/account/tokens")
@login_required
def create_token() -> Any:
    """Create a token; the answer shows its secret this once (only its hash is kept)."""
    form = TokenForm()
    if form.validate_on_submit():
        user = actor()
        created = attempt(
            lambda: create_api_token(
                get_session(), actor=user, user=user, label=form.label.data or ""
            ),
            form=form,
            paths={"label": "label"},
        )
        if created is not None:
            # Rendered, not redirected: the secret must not travel through the session cookie.
            return _page(TokenForm(formdata=None), status=201, created=created)
    return _page(form, status=422)


@bp.post("/account/tokens/<int:token_id>/revoke")
@login_required
def revoke_token(token_id: int) -> Any:
    """Revoke a token: the next API call with it answers 401."""
    form = RevokeForm()
    if not form.validate_on_submit():
        return redirect(url_for(".tokens"))
    user = actor()
    token = attempt(lambda: revoke_api_token(get_session(), actor=user, token_id=token_id))
    if token is not None:
        flash(_("Token “%(label)s” revoked.", label=token.label), "success")
    return redirect(url_for(".tokens"))


__all__ = ["create_token", "revoke_token", "tokens"]
