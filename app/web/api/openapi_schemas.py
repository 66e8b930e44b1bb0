"""The component schemas of the API v1 OpenAPI document (app/web/api/openapi.py): the request
bodies the input models read and the answers serializers.py builds, with the enums taken from
the models so they cannot drift.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from app.models import RecordStatus, Source
from app.models.acceptance import Flag
from app.models.customer import Cloud
from app.models.ledger import ConfirmationSource
from app.services.review import MAX_REASON_LENGTH

GUID_PATTERN = r"^\{?[0-9a-fA-F]{8}-?([0-9a-fA-F]{4}-?){3}[0-9a-fA-F]{12}\}?$"
# Records under way to a confirmation, as transact-status reports them (services/transact.py).
PENDING_STATUSES = (RecordStatus.APPROVED, RecordStatus.FORWARDING, RecordStatus.AWAITING_CUSTOMER)


def schema_ref(name: str) -> dict[str, str]:
    """A reference to the component schema `name`."""
    return {"$ref": f"#/components/schemas/{name}"}


def _values(enum: type[StrEnum]) -> list[str]:
    return [member.value for member in enum]


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    """`schema` or null (JSON Schema 2020-12, as OpenAPI 3.1 uses it)."""
    return {"oneOf": [schema, {"type": "null"}]}


TIME = {"type": "string", "format": "date-time", "examples": ["2026-11-20T08:15:30.123456Z"]}
DATE = {"type": "string", "format": "date", "examples": ["2026-11-20"]}


def schemas() -> dict[str, Any]:
    """The component schemas of the routes views.py serves (evidence.py adds its own)."""
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
                "customer": schema_ref("CustomerInput"),
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
                "contact": schema_ref("ContactInput"),
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
                "cloud": schema_ref("Cloud"),
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
                "confirmation": _nullable(schema_ref("Confirmation")),
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
                "items": {"type": "array", "items": schema_ref("RecordSummary")},
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
        "status": schema_ref("RecordStatus"),
        "statusReason": _nullable({"type": "string"}),
        "customer": schema_ref("Customer"),
        "language": _nullable({"type": "string"}),
        "agreementType": {"type": "string", "examples": ["MicrosoftCustomerAgreement"]},
        "templateId": {"type": "string"},
        "dateAgreed": DATE,
        "contact": schema_ref("Contact"),
        "flags": {"type": "array", "items": {"type": "string", "enum": _values(Flag)}},
        "source": {"type": "string", "enum": _values(Source)},
        "upstream": schema_ref("Upstream"),
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
        properties["history"] = {"type": "array", "items": schema_ref("HistoryEvent")}
        required.append("history")
    return {
        "type": "object",
        "required": required,
        "properties": properties,
        "additionalProperties": False,
    }
