"""Agreement versions (R12), re-confirmation, and withdrawal (R13), against the fake over HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from flask import Flask
from sqlmodel import Session, select

from app.db import get_engine, get_session
from app.models import AcceptanceRecord, Confirmation, Customer, RecordStatus
from app.models.acceptance_input import parse_submission
from app.partner_center.fake_server import FakeServer
from app.partner_center.runtime import gateway
from app.services import acceptance as submissions
from app.services import agreements, record_details
from app.services.errors import PermissionDenied
from app.services.forwarding import ForwardingPolicy, forward_record
from app.services.ledger import record_withdrawal, supersede
from tests.conftest import AppFactory
from tests.support import Users, approved, load_users, new_tenant, reread, submission
from workers import tasks

NEW_TEMPLATE = "cccccccc-1111-2222-3333-444444444444"
POLICY = ForwardingPolicy(lease_seconds=30, retry_base_seconds=1, retry_cap_seconds=2)


@dataclass
class World:
    app: Flask
    db: Session
    users: Users
    fake: FakeServer

    def forward(self, record: AcceptanceRecord) -> str:
        result = forward_record(
            record.id or 0, engine=get_engine(), gateway=gateway(), policy=POLICY, owner="t"
        )
        return result.outcome

    def status(self, record: AcceptanceRecord) -> str:
        return str(reread(self.db, AcceptanceRecord, record.id).status)

    def accepted(self, tenant: str) -> int:
        counts: dict[str, int] = self.fake.store.stats()["byCustomer"].get(tenant, {})
        return counts.get("accepted", 0)


@pytest.fixture
def world(make_app: AppFactory, database_url: str, fake_pc: FakeServer) -> Iterator[World]:
    app = make_app(database_url, PARTNER_CENTER_URL=fake_pc.url)
    with app.app_context():
        session = get_session()
        yield World(app, session, load_users(session), fake_pc)
        session.rollback()


def _confirmed(
    world: World, tenant: str, email: str = "minji.kim@contoso.example"
) -> AcceptanceRecord:
    record = approved(
        world.db,
        world.users.a_submitter,
        world.users.reviewer,
        **{"customer.tenantId": tenant, "contact.email": email},
    )
    assert world.forward(record) in ("sent", "already_ours")
    assert world.status(record) == RecordStatus.CONFIRMED
    return record


def test_a_new_agreement_version_changes_defaults_and_flags_customers(world: World) -> None:
    tenant = new_tenant()
    old = _confirmed(world, tenant)
    waiting = approved(world.db, world.users.b_submitter, world.users.reviewer)
    world.fake.store.publish_template(
        "MicrosoftCustomerAgreement", NEW_TEMPLATE, "https://aka.ms/mca-2026", 1
    )
    assert tasks.sync_agreement_templates.run() == NEW_TEMPLATE

    # New submissions are for the new version.
    fresh = submissions.submit(
        world.db,
        actor=world.users.a_submitter,
        data=parse_submission(submission(), phone_region="KR"),
    )
    world.db.commit()
    assert fresh.template_id == NEW_TEMPLATE
    # One approved on the old version is not sent: Partner Center would refuse it.
    assert world.forward(waiting) == "settled"
    refused = reread(world.db, AcceptanceRecord, waiting.id)
    assert (refused.status, refused.upstream_code) == ("failed", "template_replaced")
    assert (
        world.fake.store.stats()["byCustomer"].get(_tenant(world, waiting), {}).get("posts", 0) == 0
    )

    # Customers confirmed on the old version need a new acceptance: the provider sees all,
    # each reseller only its own.
    flagged = agreements.customers_needing_reconfirmation(world.db, actor=world.users.reviewer)
    assert [c.tenant_id for c, _entry in flagged] == [tenant]
    assert [
        c.tenant_id
        for c, _entry in agreements.customers_needing_reconfirmation(
            world.db, actor=world.users.a_submitter
        )
    ] == [tenant]
    assert (
        agreements.customers_needing_reconfirmation(world.db, actor=world.users.b_submitter) == []
    )

    # Confirmed again on the new version: no longer flagged.
    again = approved(
        world.db, world.users.a_submitter, world.users.reviewer, **{"customer.tenantId": tenant}
    )
    assert world.forward(again) == "sent"
    assert agreements.customers_needing_reconfirmation(world.db, actor=world.users.reviewer) == []
    assert world.status(old) == RecordStatus.CONFIRMED  # the old one stays as history


def test_provider_admin_re_confirmation_sends_the_next_record(world: World) -> None:
    tenant = new_tenant()
    first = _confirmed(world, tenant)
    entry = world.db.get_one(
        Confirmation, reread(world.db, AcceptanceRecord, first.id).confirmation_id
    )
    with pytest.raises(PermissionDenied):
        supersede(world.db, actor=world.users.reviewer, confirmation=entry, reason="New contact")
    world.db.rollback()
    supersede(world.db, actor=world.users.provider_admin, confirmation=entry, reason="New contact")
    world.db.commit()

    second = approved(
        world.db,
        world.users.b_submitter,
        world.users.reviewer,
        **{"customer.tenantId": tenant, "contact.email": "new.person@contoso.example"},
    )
    # Partner Center still lists the first confirmation; it must not count as covered.
    assert world.forward(second) == "sent"
    assert world.status(second) == RecordStatus.CONFIRMED
    assert world.accepted(tenant) == 2
    states = sorted(
        world.db.exec(
            select(Confirmation.state).where(Confirmation.customer_id == first.customer_id)
        )
    )
    assert states == ["active", "superseded"]


def test_withdrawal_revokes_flags_and_a_new_acceptance_starts_again(world: World) -> None:
    tenant = new_tenant()
    first = _confirmed(world, tenant)
    other = approved(
        world.db,
        world.users.b_submitter,
        world.users.reviewer,
        **{"customer.tenantId": tenant, "contact.email": "jae@contoso.example"},
    )
    assert world.forward(other) == "settled"
    assert world.status(other) == RecordStatus.DUPLICATE
    customer = world.db.get_one(Customer, first.customer_id)

    revoked = record_withdrawal(
        world.db, actor=world.users.a_submitter, customer=customer, reason="Contract ended"
    )
    world.db.commit()
    assert sorted(r.id for r in revoked) == sorted([first.id, other.id])
    assert world.status(first) == world.status(other) == RecordStatus.REVOKED
    customer = reread(world.db, Customer, first.customer_id)
    assert customer.withdrawn_at is not None
    assert customer.withdrawal_reason == "Contract ended"
    assert world.db.exec(
        select(Confirmation.state).where(Confirmation.customer_id == customer.id)
    ).all() == ["revoked"]
    # Reseller B sees its record revoked, but not which reseller's person did it.
    history = record_details.history(
        world.db, reread(world.db, AcceptanceRecord, other.id), viewer=world.users.b_submitter
    )
    assert history[-1].action == "acceptance.revoked"
    assert history[-1].actor_label == record_details.OTHER_RESELLER

    # A new acceptance is sent again (Partner Center still lists the old one) and clears the flag.
    renewed = approved(
        world.db,
        world.users.a_submitter,
        world.users.reviewer,
        **{"customer.tenantId": tenant, "contact.email": "minji.kim@contoso.example"},
        dateAgreed=(datetime.now(UTC) - timedelta(days=1)).date().isoformat(),
    )
    assert world.forward(renewed) in ("sent", "already_ours")
    assert world.status(renewed) == RecordStatus.CONFIRMED
    assert reread(world.db, Customer, first.customer_id).withdrawn_at is None


def _tenant(world: World, record: AcceptanceRecord) -> str:
    tenant_id = world.db.get_one(Customer, record.customer_id).tenant_id
    world.db.commit()
    return tenant_id
