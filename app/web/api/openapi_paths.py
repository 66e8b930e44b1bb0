"""The paths of the API v1 OpenAPI document (app/web/api/openapi.py) and the shared error
responses they refer to: one operation per route of views.py, saying exactly what it answers.
"""

from __future__ import annotations

from typing import Any

from app.services.idempotency import MAX_KEY_LENGTH
from app.web.api.openapi_schemas import GUID_PATTERN, schema_ref

JSON = "application/json"


def _error(description: str) -> dict[str, Any]:
    return {"description": description, "content": {JSON: {"schema": schema_ref("Error")}}}


RESPONSES: dict[str, Any] = {
    "Unauthorized": {
        "description": "No bearer token, or an unknown or revoked one, or its user is disabled.",
        "headers": {
            "WWW-Authenticate": {
                "schema": {"type": "string", "examples": ['Bearer realm="intake"']}
            }
        },
        "content": {JSON: {"schema": schema_ref("Error")}},
    },
    "Forbidden": _error("The token's user has a role that may not make this call."),
    "NotFound": _error(
        "No such record or customer, or it belongs to another reseller (the two look the same)."
    ),
    "Conflict": _error(
        "The record's status does not allow the action, or it changed while the request ran."
    ),
    "Invalid": {
        "description": "Invalid input, with a message per field; nothing was written.",
        "content": {JSON: {"schema": schema_ref("ValidationError")}},
    },
}


ERROR_CODES = {
    "Unauthorized": "401",
    "Forbidden": "403",
    "NotFound": "404",
    "Conflict": "409",
    "Invalid": "422",
}


def _errors(*names: str) -> dict[str, Any]:
    """The shared error responses by name, keyed by their status codes."""
    return {ERROR_CODES[name]: {"$ref": f"#/components/responses/{name}"} for name in names}


def _responses(ok: tuple[str, str, str], *errors: str) -> dict[str, Any]:
    """`ok` = (status, description, schema name), then the shared error responses by name."""
    status, description, schema = ok
    return {
        status: {"description": description, "content": {JSON: {"schema": schema_ref(schema)}}},
        **_errors(*errors),
    }


def _path_id() -> dict[str, Any]:
    return {
        "name": "id",
        "in": "path",
        "required": True,
        "description": "The record's `id`.",
        "schema": {"type": "string", "examples": ["07ea89f0551545a890cc29bbcfed4c91"]},
    }


def _decision(action: str, description: str, with_reason: bool) -> dict[str, Any]:
    operation: dict[str, Any] = {
        "operationId": f"{action}Acceptance",
        "tags": ["review"],
        "summary": f"{action.capitalize()} a submitted record (provider roles)",
        "description": description,
        "parameters": [_path_id()],
        "responses": _responses(
            ("200", "The record after the decision.", "Record"),
            "Unauthorized",
            "Forbidden",
            "NotFound",
            "Conflict",
            *(("Invalid",) if with_reason else ()),
        ),
    }
    if with_reason:
        operation["requestBody"] = {
            "required": True,
            "content": {JSON: {"schema": schema_ref("ReasonInput")}},
        }
    return operation


def paths() -> dict[str, Any]:
    """The path items of the routes views.py serves (evidence.py describes its own)."""
    record_id = "/acceptances/{id}"
    return {
        "/openapi.json": {
            "get": {
                "operationId": "getOpenApiDocument",
                "tags": ["meta"],
                "summary": "This document",
                "security": [],
                "responses": {
                    "200": {
                        "description": "The OpenAPI 3.1 document of this API.",
                        "content": {JSON: {"schema": {"type": "object"}}},
                    }
                },
            }
        },
        "/acceptances": {
            "post": {
                "operationId": "createAcceptance",
                "tags": ["acceptances"],
                "summary": "Submit an acceptance (reseller roles)",
                "description": (
                    "Records who at the customer accepted the Microsoft Customer Agreement, and "
                    "when. The record waits for the provider's review (`submitted`). Honours "
                    "`Idempotency-Key`."
                ),
                "parameters": [
                    {
                        "name": "Idempotency-Key",
                        "in": "header",
                        "required": False,
                        "description": (
                            "A repeat with the same key and body answers the first response "
                            "(with `Idempotent-Replayed: true`) and creates nothing; the same key "
                            "with another body is a 422. Keys are per user."
                        ),
                        "schema": {"type": "string", "minLength": 1, "maxLength": MAX_KEY_LENGTH},
                    }
                ],
                "requestBody": {
                    "required": True,
                    "content": {JSON: {"schema": schema_ref("AcceptanceInput")}},
                },
                "responses": {
                    "201": _created(),
                    **_errors("Unauthorized", "Forbidden", "Invalid"),
                },
            },
            "get": {
                "operationId": "listAcceptances",
                "tags": ["acceptances"],
                "summary": "Records visible to the caller, newest first",
                "description": (
                    "A reseller sees its own organization's records, the provider all. Cursor "
                    "pagination: pass the previous page's `nextCursor` as `cursor`."
                ),
                "parameters": [
                    {
                        "name": "status",
                        "in": "query",
                        "required": False,
                        "schema": schema_ref("RecordStatus"),
                    },
                    {
                        "name": "customerTenantId",
                        "in": "query",
                        "required": False,
                        "schema": {"type": "string", "pattern": GUID_PATTERN},
                    },
                    {
                        "name": "cursor",
                        "in": "query",
                        "required": False,
                        "description": "The `nextCursor` of the previous page (opaque).",
                        "schema": {"type": "string"},
                    },
                    {
                        "name": "limit",
                        "in": "query",
                        "required": False,
                        "schema": {"type": "integer", "minimum": 1, "maximum": 200, "default": 50},
                    },
                ],
                "responses": _responses(
                    ("200", "One page of records (without history).", "RecordPage"),
                    "Unauthorized",
                    "Invalid",
                ),
            },
        },
        record_id: {
            "get": {
                "operationId": "getAcceptance",
                "tags": ["acceptances"],
                "summary": "One record with its history",
                "parameters": [_path_id()],
                "responses": _responses(
                    ("200", "The record.", "Record"), "Unauthorized", "NotFound"
                ),
            }
        },
        f"{record_id}/approve": {
            "post": _decision(
                "approve",
                "The worker then sends it to Partner Center. No request body.",
                with_reason=False,
            )
        },
        f"{record_id}/reject": {
            "post": _decision("reject", "Ends the record; the reseller sees the reason.", True)
        },
        f"{record_id}/return": {
            "post": _decision(
                "return", "Sends the record back to the reseller for correction.", True
            )
        },
        "/customers/{tenantId}/transact-status": {
            "get": {
                "operationId": "getTransactStatus",
                "tags": ["customers"],
                "summary": "May this customer make a new purchase or change seats now?",
                "description": (
                    "New purchases and seat changes need a confirmation of the current agreement "
                    "version (R10, R12); automatic renewals do not. A reseller asks only about "
                    "customers it serves."
                ),
                "parameters": [
                    {
                        "name": "tenantId",
                        "in": "path",
                        "required": True,
                        "schema": {
                            "type": "string",
                            "examples": ["3f2504e0-4f89-41d3-9a0c-0305e82c3301"],
                        },
                    }
                ],
                "responses": _responses(
                    ("200", "The answer and what it rests on.", "TransactStatus"),
                    "Unauthorized",
                    "NotFound",
                    "Invalid",
                ),
            }
        },
    }


def _created() -> dict[str, Any]:
    return {
        "description": "Created (or the first answer, replayed).",
        "headers": {
            "Location": {
                "description": "The new record's URL (absent on a replay).",
                "schema": {"type": "string"},
            },
            "Idempotent-Replayed": {
                "description": "`true` when this answer replays the first one.",
                "schema": {"type": "string", "enum": ["true"]},
            },
        },
        "content": {JSON: {"schema": schema_ref("Record")}},
    }
