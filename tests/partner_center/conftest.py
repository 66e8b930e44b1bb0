"""Fixtures: the fake Partner Center on a free port, and real clients talking to it over HTTP."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from app.partner_center.auth import StaticTokenProvider
from app.partner_center.client import Contact, PartnerCenterClient
from app.partner_center.fake_server import FakeServer
from app.partner_center.fake_store import FakeStore

TOKEN = "test-token"

MakeClient = Callable[..., PartnerCenterClient]


@pytest.fixture
def fake() -> Iterator[FakeServer]:
    """A fresh fake Partner Center served from a background thread."""
    server = FakeServer().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def store(fake: FakeServer) -> FakeStore:
    """The fake's state, for seeding and inspection."""
    return fake.store


@pytest.fixture
def make_client(fake: FakeServer) -> Iterator[MakeClient]:
    """Build clients against the fake; every one is closed after the test."""
    clients: list[PartnerCenterClient] = []

    def make(**kwargs: Any) -> PartnerCenterClient:
        provider = kwargs.pop("token_provider", StaticTokenProvider(TOKEN))
        client = PartnerCenterClient(fake.url, provider, **kwargs)
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


@pytest.fixture
def client(make_client: MakeClient) -> PartnerCenterClient:
    """A client with comfortable timeouts."""
    return make_client(timeout=5.0)


@pytest.fixture
def http(fake: FakeServer) -> Iterator[httpx.Client]:
    """A raw HTTP client for the fake's admin routes and wire-level checks."""
    with httpx.Client(base_url=fake.url, timeout=5.0) as raw:
        yield raw


@pytest.fixture
def tenant() -> str:
    """A fresh customer tenant id."""
    return str(uuid.uuid4())


@pytest.fixture
def contact() -> Contact:
    """The contact the portal sends in most tests."""
    return Contact("Tania", "Carr", "tania.carr@example.com", "1234567890")
