"""Signed-in browser clients for the web tests."""

from __future__ import annotations

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.conftest import login
from tests.support import Users


def signed_in(app: Flask, email: str) -> FlaskClient:
    """A new browser session, signed in as `email`."""
    client = app.test_client()
    login(client, email)
    return client


@pytest.fixture
def client_a(app: Flask, users: Users) -> FlaskClient:
    """Reseller A's submitter, signed in."""
    return signed_in(app, users.a_submitter.email)


@pytest.fixture
def client_b(app: Flask, users: Users) -> FlaskClient:
    """Reseller B's submitter, signed in."""
    return signed_in(app, users.b_submitter.email)


@pytest.fixture
def reviewer(app: Flask, users: Users) -> FlaskClient:
    """The provider's reviewer, signed in."""
    return signed_in(app, users.reviewer.email)
