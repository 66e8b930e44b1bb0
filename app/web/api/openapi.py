"""The OpenAPI 3.1 document of API v1, served at `GET /api/v1/openapi.json` (public: no data).

Written by hand to say exactly what the views answer (the response bodies are built in
serializers.py, not from models); the enums come from the models so they cannot drift, and
tests/api/test_openapi.py checks the rest: every route is described, the request schema names
the fields the input model reads, and schemathesis finds no answer the document does not allow.

This module puts the document together and serves it; the component schemas are in
openapi_schemas.py, the paths and their shared error responses in openapi_paths.py.
"""

from __future__ import annotations

from typing import Any

from flask import jsonify

from app.web.api import evidence
from app.web.api.openapi_paths import RESPONSES, paths
from app.web.api.openapi_schemas import schemas
from app.web.api.views import bp

OPENAPI_VERSION = "3.1.0"
API_VERSION = "1.0.0"


def document() -> dict[str, Any]:
    """The OpenAPI 3.1 document of API v1 (a fresh dict on each call)."""
    return {
        "openapi": OPENAPI_VERSION,
        "info": {
            "title": "Acceptance intake API",
            "version": API_VERSION,
            "description": (
                "Resellers submit their customers' acceptances of the Microsoft Customer "
                "Agreement; the provider reviews them. Create a token in the web under "
                "*API tokens* and send it as `Authorization: Bearer <token>`. Roles and tenant "
                "scoping are the web's. Guide with examples: docs/API.md."
            ),
        },
        "servers": [{"url": "/api/v1"}],
        "security": [{"bearerAuth": []}],
        "tags": [
            {"name": "acceptances", "description": "Submit and read acceptance records."},
            {"name": "review", "description": "The provider's decisions."},
            {"name": "evidence", "description": "Files proving the customer's acceptance (R3)."},
            {"name": "customers", "description": "What a customer may do now."},
            {"name": "meta", "description": "About the API itself."},
        ],
        # Each module that adds API routes describes them; this one puts the pieces together.
        "paths": {**paths(), **evidence.openapi_paths()},
        "components": {
            "securitySchemes": {
                "bearerAuth": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "An API token created under *API tokens* (starts with `ipt_`).",
                }
            },
            "schemas": {**schemas(), **evidence.openapi_schemas()},
            "responses": RESPONSES,
        },
    }


@bp.get("/openapi.json")
def openapi_document() -> Any:
    """This API's OpenAPI 3.1 document; public, as it holds no data."""
    return jsonify(document())
