"""The reviewer's forms: buttons with CSRF, and reasons."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import TextAreaField


class ActionForm(FlaskForm):
    """A POST-only button (approve, retry)."""


class ReasonForm(FlaskForm):
    """Reject or return: the reason is required (the service says so if it is missing)."""

    reason = TextAreaField(_l("Reason (the reseller sees it)"))
