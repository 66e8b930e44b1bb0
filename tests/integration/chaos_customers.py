"""Simulated customers and resellers for enhanced-flow fault runs (R18-R20)."""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import select

from app.db import new_session
from app.models import AcceptanceRecord, User
from app.partner_center.fake_server import FakeServer
from workers.dispatch import enqueue_forwarding


@dataclass
class Customers:
    """What the simulated customers and resellers did (enhanced flow)."""

    accepted: int = 0
    lapsed: int = 0
    reissued: int = 0
    most_live: int = 0
    lapse_rate: float = 0.03
    errors: list[str] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)


def customers_and_resellers(
    engine: sa.Engine,
    scenario: Any,
    rng: random.Random,
    fake: FakeServer,
    customers: Customers,
) -> None:
    """Customers accept (or let lapse) the links; resellers re-issue lapsed ones (R19)."""
    customers.lapse_rate = scenario.lapse_rate
    book = fake.store.attestations
    try:
        while not customers.stop.wait(0.2):
            now = datetime.now(UTC)
            live: dict[str, int] = {}
            for attestation in book.all():
                if attestation.is_live(now):
                    live[attestation.tenant_id] = live.get(attestation.tenant_id, 0) + 1
                if attestation.state(now) != "Pending":
                    continue
                draw = rng.random()
                if draw < customers.lapse_rate:
                    book.expire(attestation.attestation_id)
                    customers.lapsed += 1
                elif (
                    draw < customers.lapse_rate + scenario.accept_rate
                    and book.accept(attestation.attestation_id)[0] == "accepted"
                ):
                    customers.accepted += 1
            customers.most_live = max([customers.most_live, *live.values()])
            customers.reissued += _reissue_expired(engine)
    except Exception as exc:  # reported as a violation
        customers.errors.append(repr(exc))


def _reissue_expired(engine: sa.Engine) -> int:
    """Each expired record's reseller asks for a new link, when the customer has none live."""
    from app.services.acceptance import reissue
    from app.services.errors import DomainError

    done = []
    with new_session(engine) as session:
        reseller_users = {u.organization_id: u for u in session.exec(select(User))}
        for record in session.exec(
            select(AcceptanceRecord).where(AcceptanceRecord.status == "expired")
        ).all():
            try:
                reissue(session, actor=reseller_users[record.reseller_id], record=record)
                session.commit()
                done.append(record.id or 0)
            except DomainError:
                session.rollback()  # another record's link is live: wait for it
    if done:
        enqueue_forwarding(done)
    return len(done)
