"""The OpenAPI 3.1 document of API v1, served at `GET /api/v1/openapi.json` (public: no data).

Written by hand to say exactly what the views answer (the response bodies are built in
serializers.py, not from models); the enums come from the models so they cannot drift, and
tests/api/test_openapi.py checks the rest: every route is described, the request schema names
the fields the input model reads, and schemathesis finds no answer the document does not allow.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from flask import jsonify

from app.models import RecordStatus, Source
from app.models.acceptance import Flag
from app.models.customer import Cloud
from app.models.ledger import ConfirmationSource
from app.services.idempotency import MAX_KEY_LENGTH
from app.services.review import MAX_REASON_LENGTH
from app.web.api import evidence
from app.web.api.views import bp

OPENAPI_VERSION = "3.1.0"
API_VERSION = "1.0.0"
JSON = "application/json"
GUID_PATTERN = r"^\{?[0-9a-fA-F]{8}-?([0-9a-fA-F]{4}-?){3}[0-9a-fA-F]{12}\}?$"
# Records under way to a confirmation, as transact-status reports them (services/transact.py).
PENDING_STATUSES = (RecordStatus.APPROVED, RecordStatus.FORWARDING, RecordStatus.AWAITING_CUSTOMER)


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _values(enum: type[StrEnum]) -> list[str]:
    return [member.value for member in enum]


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    """`schema` or null (JSON Schema 2020-12, as OpenAPI 3.1 uses it)."""
    return {"oneOf": [schema, {"type": "null"}]}


TIME = {"type": "string", "format": "date-time", "examples": ["2026-11-20T08:15:30.123456Z"]}
DATE = {"type": "string", "format": "date", "examples": ["2026-11-20"]}


def _schemas() -> dict[str, Any]:
    return {
        "Error": {
            "type": "object",
            "description": "Every refusal but invalid input: a sentence for people.",
            "required": ["error"],
            "properties": {"error": {"type": "string"}},
            "additionalProperties": False,
        },
        "ValidationError": {
            "type": "object",
            "description": (
                "Invalid input (422): `errors` maps each field path (`contact.email`, "
                "`customer.tenantId`, `limit`, `Idempotency-Key`, `body`...) to its messages. "
                "Nothing was written."
            ),
            "required": ["error", "errors"],
            "properties": {
                "error": {"type": "string", "examples": ["The request has invalid fields."]},
                "errors": {
                    "type": "object",
                    "additionalProperties": {
                        "type": "array",
                        "items": {"type": "string"},
                        "minItems": 1,
                    },
                    "examples": [{"contact.email": ["Enter a valid email address, ..."]}],
                },
            },
            "additionalProperties": False,
        },
        "RecordStatus": {
            "type": "string",
            "enum": _values(RecordStatus),
            "description": (
                "`submitted` → `approved` → `forwarding` → `confirmed` or `duplicate` (already "
                "confirmed: nothing needed sending) or `failed`; with the enhanced flow "
                "`awaiting_customer` (carries `acceptanceUrl`) and `expired`. A reviewer may "
                "`reject` or `return` a submitted record; `withdrawn` and `revoked` end it."
            ),
        },
        "Cloud": {"type": "string", "enum": _values(Cloud)},
        "CustomerInput": {
            "type": "object",
            "required": ["tenantId", "companyName"],
            "properties": {
                "tenantId": {
                    "type": "string",
                    "pattern": GUID_PATTERN,
                    "description": "The customer's Microsoft tenant ID (a GUID).",
                    "examples": ["3f2504e0-4f89-41d3-9a0c-0305e82c3301"],
                },
                "companyName": {"type": "string", "minLength": 1, "maxLength": 200},
                "domain": {
                    **_nullable({"type": "string", "maxLength": 253}),
                    "examples": ["contoso.onmicrosoft.com"],
                },
                "cloud": {
                    **_nullable({"type": "string", "enum": ["", *_values(Cloud)]}),
                    "default": Cloud.PUBLIC.value,
                    "description": (
                        "Case-insensitive. Only `public` can be confirmed; the national clouds "
                        "are refused with the reason (R14)."
                    ),
                },
                "country": {
                    **_nullable({"type": "string", "minLength": 2, "maxLength": 2}),
                    "description": (
                        "ISO 3166-1 alpha-2 (e.g. `KR`); default: the customer's, else the "
                        "reseller's country, else the deployment's region."
                    ),
                },
            },
        },
        "ContactInput": {
            "type": "object",
            "description": "The person at the customer who accepted the agreement (R1, R6).",
            "required": ["firstName", "lastName", "email"],
            "properties": {
                "firstName": {"type": "string", "minLength": 1, "maxLength": 100},
                "lastName": {"type": "string", "minLength": 1, "maxLength": 100},
                "email": {"type": "string", "format": "email", "maxLength": 254},
                "phoneNumber": {
                    **_nullable({"type": "string"}),
                    "description": "Optional; stored in E.164 form (`+82212345678`).",
                    "examples": ["+82 2 1234 5678"],
                },
            },
        },
        "AcceptanceInput": {
            "type": "object",
            "description": (
                "A customer's acceptance as a reseller submits it. Fields the API does not "
                "know are ignored."
            ),
            "required": ["customer", "dateAgreed", "contact"],
            "properties": {
                "customer": _ref("CustomerInput"),
                "agreementType": {
                    **_nullable({"type": "string", "enum": ["", "MicrosoftCustomerAgreement"]}),
                    "default": "MicrosoftCustomerAgreement",
                    "description": "The only type that can still be confirmed.",
                },
                "templateId": {
                    **_nullable({"type": "string", "pattern": GUID_PATTERN}),
                    "description": (
                        "The agreement version; default and only accepted value: the current one."
                    ),
                },
                "dateAgreed": {
                    **DATE,
                    "description": (
                        "When the customer accepted: not in the future, not before 2018."
                    ),
                },
                "contact": _ref("ContactInput"),
                "language": {
                    **_nullable({"type": "string"}),
                    "description": (
                        "The agreement's language for the customer; default from the country."
                    ),
                    "examples": ["ko-KR"],
                },
            },
        },
        "ReasonInput": {
            "type": "object",
            "required": ["reason"],
            "properties": {
                "reason": {
                    "type": "string",
                    "minLength": 1,
                    "maxLength": MAX_REASON_LENGTH,
                    "description": "Shown to the reseller.",
                }
            },
        },
        "Customer": {
            "type": "object",
            "required": ["tenantId", "companyName", "domain", "cloud", "country"],
            "properties": {
                "tenantId": {"type": "string", "format": "uuid"},
                "companyName": {
                    "type": "string",
                    "description": (
                        "As the calling reseller entered it (the provider: the first one)."
                    ),
                },
                "domain": _nullable({"type": "string"}),
                "cloud": _ref("Cloud"),
                "country": _nullable({"type": "string"}),
            },
            "additionalProperties": False,
        },
        "Contact": {
            "type": "object",
            "required": ["firstName", "lastName", "email", "phoneNumber"],
            "properties": {
                "firstName": {"type": "string"},
                "lastName": {"type": "string"},
                "email": {"type": "string"},
                "phoneNumber": _nullable({"type": "string"}),
            },
            "additionalProperties": False,
        },
        "Confirmation": {
            "type": "object",
            "description": (
                "The confirmation that settles the record: its own, or the earlier one it "
                "duplicates (`ownRecord` false; never another reseller's contact)."
            ),
            "required": ["source", "dateAgreed", "recordedAt", "ownRecord"],
            "properties": {
                "source": {"type": "string", "enum": _values(ConfirmationSource)},
                "dateAgreed": _nullable(DATE),
                "recordedAt": _nullable(TIME),
                "ownRecord": {"type": "boolean"},
            },
            "additionalProperties": False,
        },
        "Upstream": {
            "type": "object",
            "required": ["code", "message", "attempts", "nextAttemptAt", "confirmation"],
            "properties": {
                "code": _nullable({"type": "string"}),
                "message": _nullable({"type": "string"}),
                "attempts": {"type": "integer", "minimum": 0},
                "nextAttemptAt": _nullable(TIME),
                "confirmation": _nullable(_ref("Confirmation")),
            },
            "additionalProperties": False,
        },
        "HistoryEvent": {
            "type": "object",
            "required": ["at", "actor", "action"],
            "properties": {
                "at": _nullable(TIME),
                "actor": {"type": "string"},
                "action": {"type": "string", "examples": ["acceptance.submitted"]},
            },
            "additionalProperties": False,
        },
        "RecordSummary": _record(history=False),
        "Record": _record(history=True),
        "RecordPage": {
            "type": "object",
            "required": ["items", "nextCursor"],
            "properties": {
                "items": {"type": "array", "items": _ref("RecordSummary")},
                "nextCursor": {
                    **_nullable({"type": "string"}),
                    "description": "Pass as `cursor` for the next page; null on the last page.",
                },
            },
            "additionalProperties": False,
        },
        "TransactStatus": {
            "type": "object",
            "required": ["mayTransact", "reason", "agreement", "pending"],
            "properties": {
                "mayTransact": {
                    "type": "boolean",
                    "description": "May the customer make a new purchase or change seats now?",
                },
                "reason": {
                    "type": "string",
                    "description": "Why; always says that automatic renewals are not affected.",
                },
                "agreement": _nullable(
                    {
                        "type": "object",
                        "required": ["type", "templateId", "dateAgreed", "source"],
                        "properties": {
                            "type": {"type": "string"},
                            "templateId": {"type": "string"},
                            "dateAgreed": _nullable(DATE),
                            "source": {"type": "string", "enum": _values(ConfirmationSource)},
                        },
                        "additionalProperties": False,
                    }
                ),
                "pending": _nullable(
                    {
                        "type": "object",
                        "description": "An acceptance under way for the customer.",
                        "required": ["status", "since", "acceptanceUrl"],
                        "properties": {
                            "status": {
                                "type": "string",
                                "enum": [s.value for s in PENDING_STATUSES],
                            },
                            "since": TIME,
                            "acceptanceUrl": {
                                **_nullable({"type": "string", "format": "uri"}),
                                "description": "For the record's own reseller and the provider.",
                            },
                        },
                        "additionalProperties": False,
                    }
                ),
            },
            "additionalProperties": False,
        },
    }


def _record(*, history: bool) -> dict[str, Any]:
    """A record as serializers.record_json builds it; list items carry no history."""
    properties: dict[str, Any] = {
        "id": {"type": "string", "pattern": "^[0-9a-f]{32}$"},
        "status": _ref("RecordStatus"),
        "statusReason": _nullable({"type": "string"}),
        "customer": _ref("Customer"),
        "language": _nullable({"type": "string"}),
        "agreementType": {"type": "string", "examples": ["MicrosoftCustomerAgreement"]},
        "templateId": {"type": "string"},
        "dateAgreed": DATE,
        "contact": _ref("Contact"),
        "flags": {"type": "array", "items": {"type": "string", "enum": _values(Flag)}},
        "source": {"type": "string", "enum": _values(Source)},
        "upstream": _ref("Upstream"),
        "submittedAt": _nullable(TIME),
        "updatedAt": _nullable(TIME),
        "approvedAt": _nullable(TIME),
        "acceptanceUrl": {
            **_nullable({"type": "string", "format": "uri"}),
            "description": (
                "Only while `awaiting_customer`: the Microsoft page where the customer accepts. "
                "The reseller brings it to the customer; the portal sends nothing (R4)."
            ),
        },
    }
    required = [name for name in properties if name != "acceptanceUrl"]
    if history:
        properties["history"] = {"type": "array", "items": _ref("HistoryEvent")}
        required.append("history")
    return {
        "type": "object",
        "required": required,
        "properties": properties,
        "additionalProperties": False,
    }


def _error(description: str) -> dict[str, Any]:
    return {"description": description, "content": {JSON: {"schema": _ref("Error")}}}


RESPONSES: dict[str, Any] = {
    "Unauthorized": {
        "description": "No bearer token, or an unknown or revoked one, or its user is disabled.",
        "headers": {
            "WWW-Authenticate": {
                "schema": {"type": "string", "examples": ['Bearer realm="intake"']}
            }
        },
        "content": {JSON: {"schema": _ref("Error")}},
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
        "content": {JSON: {"schema": _ref("ValidationError")}},
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
        status: {"description": description, "content": {JSON: {"schema": _ref(schema)}}},
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
            "content": {JSON: {"schema": _ref("ReasonInput")}},
        }
    return operation


def _paths() -> dict[str, Any]:
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
                    "content": {JSON: {"schema": _ref("AcceptanceInput")}},
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
                        "schema": _ref("RecordStatus"),
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
        "content": {JSON: {"schema": _ref("Record")}},
    }


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
        "paths": {**_paths(), **evidence.openapi_paths()},
        "components": {
            "securitySchemes": {
                "bearerAuth": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "An API token created under *API tokens* (starts with `ipt_`).",
                }
            },
            "schemas": {**_schemas(), **evidence.openapi_schemas()},
            "responses": RESPONSES,
        },
    }


@bp.get("/openapi.json")
def openapi_document() -> Any:
    """This API's OpenAPI 3.1 document; public, as it holds no data."""
    return jsonify(document())
