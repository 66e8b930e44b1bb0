"""Admin views: users of one's organization (or all, for the provider), and the audit trail."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from typing import Any

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from sqlmodel import select
from wtforms import EmailField, PasswordField, SelectField, StringField
from wtforms.fields.choices import SelectChoice

from app.db import get_session
from app.markers import N_
from app.models import Organization, Role, User
from app.models.org import PROVIDER_ROLES
from app.security.permissions import actor, roles_required
from app.services import agreements, audit_log, listing
from app.services.customers import resellers_of
from app.services.errors import NotFound
from app.services.users import can_manage, create_user, set_active
from app.web.helpers import attempt

bp = Blueprint("admin", __name__)
admins_only = roles_required(Role.PROVIDER_ADMIN, Role.RESELLER_ADMIN)
provider_only = roles_required(*PROVIDER_ROLES)


# An organization's kind as shown beside its name.
KIND_WORDS = {"provider": N_("provider"), "reseller": N_("reseller")}


class UserForm(FlaskForm):
    """A new user of the admin's organization (or of a reseller, for the provider admin)."""

    email = EmailField(_l("Email"))
    name = StringField(_l("Name"))
    role = SelectField(_l("Role"))
    organization = SelectField(_l("Organization"), coerce=int)
    password = PasswordField(
        _l("Initial password"),
        description=_l("At least 10 characters; give it to the person safely."),
    )


class ActionForm(FlaskForm):
    """A POST-only button."""


def _organizations(user: User) -> list[Organization]:
    db = get_session()
    if user.role == Role.PROVIDER_ADMIN:
        return list(db.exec(select(Organization).order_by(Organization.kind, Organization.name)))
    return [db.get_one(Organization, user.organization_id)]


def _managed_user(user_id: int) -> User:
    """A user the admin may manage; another organization's user is a 404, like a missing one."""
    found = get_session().get(User, user_id)
    if found is None or not can_manage(actor(), found):
        raise NotFound("No such user.")
    return found


@bp.route("/users", methods=["GET", "POST"])
@admins_only
def users() -> Any:
    """The users the admin manages, and a form to add one."""
    db, me = get_session(), actor()
    orgs = _organizations(me)
    form = UserForm()
    form.organization.choices = [
        SelectChoice(o.id, f"{o.name} ({_(KIND_WORDS[o.kind])})") for o in orgs
    ]
    form.role.choices = [SelectChoice(r.value, _(r.label)) for r in Role]
    if form.validate_on_submit():
        org = next((o for o in orgs if o.id == form.organization.data), None)
        if org is None:
            abort(404)
        created = attempt(
            lambda: create_user(
                db,
                actor=me,
                organization=org,
                email=form.email.data or "",
                name=form.name.data or "",
                role=Role(form.role.data),
                password=form.password.data or "",
            ),
            form=form,
            paths={"email": "email", "role": "role", "password": "password"},
        )
        if created is not None:
            flash(_("User %(email)s created.", email=created.email), "success")
            return redirect(url_for(".users"))
    query = select(User).order_by(User.email)
    if me.role != Role.PROVIDER_ADMIN:
        query = query.where(User.organization_id == me.organization_id)
    return render_template(
        "admin/users.html",
        users=list(db.exec(query)),
        orgs={o.id: o for o in orgs},
        form=form,
        action_form=ActionForm(),
    ), (422 if form.errors else 200)


@bp.post("/users/<int:user_id>/<any(enable, disable):change>")
@admins_only
def set_user_active(user_id: int, change: str) -> Any:
    """Enable or disable a user; disabling signs it out everywhere at once."""
    if not ActionForm().validate_on_submit():
        abort(400)
    db, me = get_session(), actor()
    target = _managed_user(user_id)
    if attempt(lambda: set_active(db, actor=me, user=target, active=change == "enable")):
        done = (
            _("%(email)s is now enabled.", email=target.email)
            if change == "enable"
            else _("%(email)s is now disabled.", email=target.email)
        )
        flash(done, "success")
    return redirect(url_for(".users"))


@bp.get("/agreements")
@provider_only
def agreement_versions() -> Any:
    """Agreement versions, and the customers still confirmed only on an older one (R12)."""
    db, me = get_session(), actor()
    outdated = agreements.customers_needing_reconfirmation(db, actor=me)
    return render_template(
        "admin/agreements.html",
        templates=agreements.all_templates(db),
        outdated=outdated,
        resellers={
            customer.id: [org.name for org, _name in resellers_of(db, customer)]
            for customer, _entry in outdated
        },
    )


def _audit_filters() -> audit_log.AuditFilter:
    args = request.args

    def day(name: str, end: bool = False) -> datetime | None:
        try:
            value = date.fromisoformat(args.get(name, ""))
        except ValueError:
            return None
        moment = datetime.combine(value, time.max if end else time.min, tzinfo=UTC)
        return moment

    return audit_log.AuditFilter(
        action=args.get("action") or None,
        actor=args.get("actor") or None,
        subject_id=args.get("subject") or None,
        organization_id=args.get("organization", type=int),
        since=day("since"),
        until=day("until", end=True),
    )


@bp.get("/audit")
@provider_only
def audit() -> Any:
    """The audit trail, newest first, with filters."""
    db, me = get_session(), actor()
    filters = _audit_filters()
    events, next_before = audit_log.search(
        db, actor=me, filters=filters, before_id=request.args.get("before", type=int)
    )
    args: dict[str, Any] = request.args.to_dict()
    args.pop("before", None)
    return render_template(
        "admin/audit.html",
        events=events,
        filters=filters,
        orgs={o.id: o for o in db.exec(select(Organization))},
        resellers=listing.resellers(db),
        next_url=url_for(".audit", **args, before=next_before) if next_before else None,
        export_url=url_for(".audit_export", **args),
    )


@bp.get("/audit.csv")
@provider_only
def audit_export() -> Any:
    """The filtered trail as CSV (safe to open in a spreadsheet)."""
    db, me = get_session(), actor()
    lines = audit_log.export_csv(db, actor=me, filters=_audit_filters())
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M")
    return Response(
        lines,
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="audit-{stamp}.csv"'},
    )
