"""API v1 evidence files (R3, R16): a reseller's system attaches the signed acceptance to a
record; both sides list and download a record's files. `openapi_paths()` and
`openapi_schemas()` describe them for the document app/web/api/openapi.py serves.
"""

from __future__ import annotations

from typing import Any

from flask import jsonify, request, url_for

from app.db import get_session
from app.models import EvidenceFile
from app.models.org import RESELLER_ROLES, Role
from app.security.permissions import actor, api_roles_required
from app.security.scoping import get_record
from app.services import evidence as evidence_service
from app.services.errors import ValidationFailed
from app.web.api.views import bp
from app.web.reseller.evidence import download_response

ALL_ROLES = frozenset(Role)


def evidence_json(record_public_id: str, evidence: EvidenceFile) -> dict[str, Any]:
    """A file's metadata as the API shows it (never its bytes)."""
    return {
        "id": evidence.public_id,
        "filename": evidence.filename,
        "contentType": evidence.content_type,
        "size": evidence.size_bytes,
        "sha256": evidence.sha256,
        "uploadedAt": evidence.uploaded_at.isoformat(),
        "download": url_for(
            "api.download_evidence", public_id=record_public_id, file_id=evidence.public_id
        ),
    }


@bp.get("/acceptances/<public_id>/evidence")
@api_roles_required(ALL_ROLES)
def list_evidence(public_id: str) -> Any:
    """The record's files, oldest first."""
    db = get_session()
    record = get_record(db, actor(), public_id)
    files = evidence_service.files_for(db, record)
    return jsonify({"items": [evidence_json(record.public_id, f) for f in files]})


@bp.post("/acceptances/<public_id>/evidence")
@api_roles_required(RESELLER_ROLES)
def attach_evidence(public_id: str) -> Any:
    """Attach a file sent as multipart/form-data in the field `file` (201, or 422 and why)."""
    db, user = get_session(), actor()
    record = get_record(db, user, public_id, for_update=True)
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        raise ValidationFailed(
            {"file": ["Send the file as multipart/form-data in the field 'file', with a name."]}
        )
    content = upload.stream.read(evidence_service.MAX_BYTES + 1)
    made = evidence_service.attach(
        db, actor=user, record=record, filename=upload.filename, content=content
    )
    payload = evidence_json(record.public_id, made)
    db.commit()
    response = jsonify(payload)
    response.status_code = 201
    response.headers["Location"] = payload["download"]
    return response


@bp.get("/acceptances/<public_id>/evidence/<file_id>")
@api_roles_required(ALL_ROLES)
def download_evidence(public_id: str, file_id: str) -> Any:
    """The file's bytes (an attachment of its checked type)."""
    db = get_session()
    record = get_record(db, actor(), public_id)
    return download_response(evidence_service.get_file(db, record, file_id))


# --- the OpenAPI description of these operations (merged by app/web/api/openapi.py) ----------


def _ref(kind: str, name: str) -> dict[str, str]:
    return {"$ref": f"#/components/{kind}/{name}"}


def _record_id() -> dict[str, Any]:
    return {
        "name": "id",
        "in": "path",
        "required": True,
        "description": "The record's `id`.",
        "schema": {"type": "string"},
    }


def openapi_schemas() -> dict[str, Any]:
    """Component schemas: `EvidenceFile` and `EvidenceList`."""
    return {
        "EvidenceFile": {
            "type": "object",
            "required": ["id", "filename", "contentType", "size", "sha256", "uploadedAt"],
            "properties": {
                "id": {"type": "string"},
                "filename": {"type": "string", "description": "Cleaned of folders and controls."},
                "contentType": {"type": "string", "enum": sorted(evidence_service.ALLOWED_TYPES)},
                "size": {"type": "integer", "minimum": 1, "maximum": evidence_service.MAX_BYTES},
                "sha256": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
                "uploadedAt": {"type": "string", "format": "date-time"},
                "download": {"type": "string", "description": "The URL of the file's bytes."},
            },
        },
        "EvidenceList": {
            "type": "object",
            "required": ["items"],
            "properties": {
                "items": {"type": "array", "items": _ref("schemas", "EvidenceFile")},
            },
        },
    }


def openapi_paths() -> dict[str, Any]:
    """Path items for the list, the upload and the download."""
    binary = {"schema": {"type": "string", "format": "binary"}}
    errors = {
        "401": _ref("responses", "Unauthorized"),
        "404": _ref("responses", "NotFound"),
    }
    return {
        "/acceptances/{id}/evidence": {
            "get": {
                "operationId": "listEvidence",
                "tags": ["evidence"],
                "summary": "The record's evidence files (R3), oldest first",
                "parameters": [_record_id()],
                "responses": {
                    "200": {
                        "description": "The files' metadata.",
                        "content": {
                            "application/json": {"schema": _ref("schemas", "EvidenceList")}
                        },
                    },
                    **errors,
                },
            },
            "post": {
                "operationId": "attachEvidence",
                "tags": ["evidence"],
                "summary": "Attach the customer's signed acceptance (reseller roles)",
                "description": (
                    "A PDF, PNG or JPEG (recognised by its bytes, not its name) of at most "
                    f"{evidence_service.MAX_MEGABYTES} MB; at most "
                    f"{evidence_service.MAX_FILES_PER_RECORD} files per record; not on a "
                    "rejected or withdrawn record. A larger request is refused with 413."
                ),
                "parameters": [_record_id()],
                "requestBody": {
                    "required": True,
                    "content": {
                        "multipart/form-data": {
                            "schema": {
                                "type": "object",
                                "required": ["file"],
                                "properties": {"file": {"type": "string", "format": "binary"}},
                            }
                        }
                    },
                },
                "responses": {
                    "201": {
                        "description": "Attached; `Location` is the file's download URL.",
                        "content": {
                            "application/json": {"schema": _ref("schemas", "EvidenceFile")}
                        },
                    },
                    **errors,
                    "403": _ref("responses", "Forbidden"),
                    "409": _ref("responses", "Conflict"),
                    "413": {
                        "description": "The request is larger than the limit.",
                        "content": {"application/json": {"schema": _ref("schemas", "Error")}},
                    },
                    "422": _ref("responses", "Invalid"),
                },
            },
        },
        "/acceptances/{id}/evidence/{fileId}": {
            "get": {
                "operationId": "downloadEvidence",
                "tags": ["evidence"],
                "summary": "One evidence file's bytes, as an attachment",
                "parameters": [
                    _record_id(),
                    {
                        "name": "fileId",
                        "in": "path",
                        "required": True,
                        "schema": {"type": "string"},
                    },
                ],
                "responses": {
                    "200": {
                        "description": "The file, with the type its bytes showed.",
                        "content": dict.fromkeys(sorted(evidence_service.ALLOWED_TYPES), binary),
                    },
                    **errors,
                },
            }
        },
    }
