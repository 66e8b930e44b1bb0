"""Evidence files (R3): the customer's signed acceptance, kept with its record.

R3: the partner keeps its own records proving acceptance (signed, documented, digital or
paper). A reseller attaches the signed form or a scan of it to the acceptance record; the
provider opens it while reviewing and later; the export lists it.

Rules decided here:
- Types are PDF, PNG and JPEG, recognised by the file's first bytes. The browser's content type
  and the name's extension are ignored: a ".pdf" holding HTML is refused.
- At most MAX_BYTES per file, none empty, at most MAX_FILES_PER_RECORD files on a record.
- The record's reseller (submitter or admin) attaches while the record is alive: in every state
  except rejected and withdrawn. Evidence often arrives after approval (the paper comes back
  signed later), and it stays part of the record's proof through confirmation, a duplicate or
  a revocation. Rejected and withdrawn records were dismissed, and retention strips their
  personal data, so nothing more is added to them.
- A file is removed only while the provider has not decided (submitted or returned), by its
  uploader or a reseller admin of the same organization: once a reviewer may have relied on a
  file it stays. Removal drops the bytes (a wrong file may hold another customer's data) and
  keeps the name, size and hash for the trail.
- The provider (reviewer, admin) opens every record's files; another reseller's record is not
  found (the caller reaches the record through the tenant-scoped getter).
- Every attach and removal writes an audit event on the record, in the same transaction.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func
from sqlmodel import Session, col, select

from app.markers import M_, N_
from app.models import AcceptanceRecord, EvidenceFile, RecordStatus, Role, User, utcnow
from app.services.audit import record_event
from app.services.errors import InvalidTransition, NotFound, PermissionDenied, ValidationFailed

MAX_BYTES = 5 * 1024 * 1024
MAX_MEGABYTES = MAX_BYTES // (1024 * 1024)
MAX_FILES_PER_RECORD = 5
MAX_FILENAME_LENGTH = 120

PDF = "application/pdf"
PNG = "image/png"
JPEG = "image/jpeg"
# The types the portal stores and serves, with the extensions a download name may carry.
EXTENSIONS: dict[str, tuple[str, ...]] = {
    PDF: (".pdf",),
    PNG: (".png",),
    JPEG: (".jpg", ".jpeg"),
}
ALLOWED_TYPES = frozenset(EXTENSIONS)
# For an HTML form's `accept` attribute (a hint for the file picker only; the bytes decide).
ACCEPT = ",".join([*EXTENSIONS, *(ext for exts in EXTENSIONS.values() for ext in exts)])

# No more evidence is added to a dismissed record.
CLOSED_STATUSES = frozenset({RecordStatus.REJECTED, RecordStatus.WITHDRAWN})
# Files can be taken back only before the provider's decision.
REMOVABLE_STATUSES = frozenset({RecordStatus.SUBMITTED, RecordStatus.RETURNED})

FIELD = "file"
_SPACES = re.compile(r"\s+")


@dataclass(frozen=True)
class EvidenceSummary:
    """What a list or the export shows of a file (never its bytes)."""

    public_id: str
    record_id: int
    filename: str
    content_type: str
    size_bytes: int
    sha256: str
    uploaded_at: datetime
    uploaded_by: str  # the uploader's email


def detect_type(content: bytes) -> str | None:
    """The file's type from its first bytes (PDF, PNG or JPEG), or None for anything else."""
    if content.startswith(b"%PDF-"):
        return PDF
    if content.startswith(b"\x89PNG\r\n\x1a\n"):
        return PNG
    if content.startswith(b"\xff\xd8\xff"):
        return JPEG
    return None


def clean_filename(name: str | None, content_type: str) -> str:
    """A display and download name: no folders, no control characters, the right extension.

    Only the last part of a path survives (browsers on Windows send "C:\\\\scan\\\\a.pdf"),
    control and format characters go, spaces collapse, leading dots go (no hidden files), and
    the name ends with an extension of the detected type (replacing a wrong known one).
    """
    raw = unicodedata.normalize("NFC", name or "")
    raw = re.split(r"[\\/]", raw)[-1]
    raw = "".join(ch for ch in raw if unicodedata.category(ch)[0] != "C")
    raw = _SPACES.sub(" ", raw).strip().lstrip(".").strip()
    stem, dot, ext = raw.rpartition(".")
    if not dot:
        stem, ext = raw, ""
    extensions = EXTENSIONS[content_type]
    known = {e for exts in EXTENSIONS.values() for e in exts}
    if f".{ext.lower()}" in extensions:
        suffix = f".{ext.lower()}"
    else:
        # A wrong known extension is replaced; an unknown one stays part of the name.
        stem = stem if f".{ext.lower()}" in known else raw
        suffix = extensions[0]
    stem = stem.strip() or "evidence"
    return stem[: MAX_FILENAME_LENGTH - len(suffix)].rstrip() + suffix


def _check_content(content: bytes) -> str:
    """The content type of an acceptable file; ValidationFailed with a readable reason."""
    if not content:
        raise ValidationFailed(
            {FIELD: [N_("The file is empty. Choose the scanned or signed acceptance.")]}
        )
    if len(content) > MAX_BYTES:
        raise ValidationFailed({FIELD: [too_large_message()]})
    content_type = detect_type(content)
    if content_type is None:
        raise ValidationFailed(
            {
                FIELD: [
                    N_(
                        "This file is not a PDF, PNG or JPEG. Attach a scan or photo of the "
                        "signed acceptance in one of these formats."
                    )
                ]
            }
        )
    return content_type


def too_large_message() -> str:
    """What a person reads when a file passes the size limit (also for the HTTP 413)."""
    return M_(
        "The file is larger than %(mb)s MB. Scan it at a lower resolution or save it as a "
        "smaller PDF, then attach it again.",
        mb=MAX_MEGABYTES,
    )


def closed_reason(record: AcceptanceRecord) -> str | None:
    """Why no file can be attached to the record now, or None when one can."""
    if record.status in CLOSED_STATUSES:
        return N_("The record was rejected or withdrawn: no evidence can be added to it.")
    return None


def may_attach(actor: User, record: AcceptanceRecord) -> bool:
    """Whether `actor` may attach a file to `record` now (its reseller, record not closed)."""
    return (
        not actor.is_provider
        and actor.organization_id == record.reseller_id
        and closed_reason(record) is None
    )


def may_remove(actor: User, record: AcceptanceRecord, evidence: EvidenceFile) -> bool:
    """Whether `actor` may remove the file: its uploader or a reseller admin, before review."""
    return (
        not actor.is_provider
        and actor.organization_id == record.reseller_id
        and evidence.record_id == record.id
        and not evidence.is_removed
        and record.status in REMOVABLE_STATUSES
        and (evidence.uploaded_by_id == actor.id or actor.role == Role.RESELLER_ADMIN)
    )


def _details(evidence: EvidenceFile) -> dict[str, object]:
    return {
        "file": evidence.public_id,
        "filename": evidence.filename,
        "content_type": evidence.content_type,
        "size": evidence.size_bytes,
        "sha256": evidence.sha256,
    }


def active_count(session: Session, record: AcceptanceRecord) -> int:
    """How many files (not removed) the record holds."""
    count = session.exec(
        select(func.count())
        .select_from(EvidenceFile)
        .where(EvidenceFile.record_id == record.id)
        .where(col(EvidenceFile.removed_at).is_(None))
    ).one()
    return int(count)


def attach(
    session: Session,
    *,
    actor: User,
    record: AcceptanceRecord,
    filename: str | None,
    content: bytes,
) -> EvidenceFile:
    """Attach a file to a record, audited; the caller reached `record` through the scoped
    getter (and locked it, so that two uploads cannot pass the per-record limit together)."""
    if actor.is_provider:
        raise PermissionDenied(N_("Only the record's reseller attaches evidence."))
    if actor.organization_id != record.reseller_id:
        raise NotFound(N_("No such acceptance record."))
    reason = closed_reason(record)
    if reason:
        raise InvalidTransition(reason)
    content_type = _check_content(content)
    if active_count(session, record) >= MAX_FILES_PER_RECORD:
        raise ValidationFailed(
            {
                FIELD: [
                    M_(
                        "A record holds at most %(n)s files. Remove one first, or combine "
                        "the pages into one PDF.",
                        n=MAX_FILES_PER_RECORD,
                    )
                ]
            }
        )
    evidence = EvidenceFile(
        record_id=record.id or 0,
        filename=clean_filename(filename, content_type),
        content_type=content_type,
        size_bytes=len(content),
        sha256=hashlib.sha256(content).hexdigest(),
        content=content,
        uploaded_by_id=actor.id or 0,
        uploaded_at=utcnow(),
    )
    session.add(evidence)
    session.flush()
    record_event(
        session,
        actor=actor,
        action="acceptance.evidence_added",
        subject_type="acceptance",
        subject_id=record.public_id,
        organization_id=record.reseller_id,
        details=_details(evidence),
    )
    return evidence


def remove(
    session: Session, *, actor: User, record: AcceptanceRecord, evidence: EvidenceFile
) -> EvidenceFile:
    """Remove a file attached by mistake (its bytes go; the trail keeps its name and hash)."""
    if actor.is_provider:
        raise PermissionDenied(N_("Only the record's reseller removes its evidence."))
    if evidence.record_id != record.id or evidence.is_removed:
        raise NotFound(N_("No such file."))
    if record.status not in REMOVABLE_STATUSES:
        raise InvalidTransition(
            N_(
                "Files stay with the record once the provider has decided on it; attach a "
                "corrected file instead."
            )
        )
    if not may_remove(actor, record, evidence):
        raise PermissionDenied(
            N_("Only the person who attached the file or a reseller admin removes it.")
        )
    evidence.removed_at = utcnow()
    evidence.removed_by_id = actor.id
    evidence.content = b""
    session.add(evidence)
    session.flush()
    record_event(
        session,
        actor=actor,
        action="acceptance.evidence_removed",
        subject_type="acceptance",
        subject_id=record.public_id,
        organization_id=record.reseller_id,
        details=_details(evidence),
    )
    return evidence


def files_for(session: Session, record: AcceptanceRecord) -> list[EvidenceFile]:
    """The record's files (not removed), oldest first; their bytes are not loaded."""
    return list(
        session.exec(
            select(EvidenceFile)
            .where(EvidenceFile.record_id == record.id)
            .where(col(EvidenceFile.removed_at).is_(None))
            .order_by(col(EvidenceFile.uploaded_at), col(EvidenceFile.id))
        )
    )


def get_file(session: Session, record: AcceptanceRecord, public_id: str) -> EvidenceFile:
    """One file of the record (reached through the scoped getter); NotFound otherwise.

    A removed file is not found either: its bytes are gone.
    """
    evidence = session.exec(
        select(EvidenceFile)
        .where(EvidenceFile.record_id == record.id)
        .where(EvidenceFile.public_id == public_id)
        .where(col(EvidenceFile.removed_at).is_(None))
    ).first()
    if evidence is None:
        raise NotFound(N_("No such file."))
    return evidence


def evidence_by_record(
    session: Session, record_ids: Iterable[int]
) -> dict[int, list[EvidenceSummary]]:
    """The files of each record (not removed, oldest first), for lists and the export.

    Records without files are absent from the answer. The caller scopes `record_ids` to what
    its actor may see; no bytes are read.
    """
    ids = sorted(set(record_ids))
    found: dict[int, list[EvidenceSummary]] = {}
    # Chunks keep the IN list within every database's parameter limit.
    for start in range(0, len(ids), 500):
        rows = session.exec(
            select(EvidenceFile, User.email)
            .join(User, col(User.id) == EvidenceFile.uploaded_by_id)
            .where(col(EvidenceFile.record_id).in_(ids[start : start + 500]))
            .where(col(EvidenceFile.removed_at).is_(None))
            .order_by(col(EvidenceFile.uploaded_at), col(EvidenceFile.id))
        )
        for evidence, email in rows:
            found.setdefault(evidence.record_id, []).append(
                EvidenceSummary(
                    public_id=evidence.public_id,
                    record_id=evidence.record_id,
                    filename=evidence.filename,
                    content_type=evidence.content_type,
                    size_bytes=evidence.size_bytes,
                    sha256=evidence.sha256,
                    uploaded_at=evidence.uploaded_at,
                    uploaded_by=email,
                )
            )
    return found


def discard_for_records(session: Session, *, record_ids: Iterable[int], now: datetime) -> int:
    """Retention: drop the bytes of the given (anonymised) records' files; how many went.

    The caller (the retention job) audits the run; the files keep name, size and hash.
    """
    ids = sorted(set(record_ids))
    done = 0
    for start in range(0, len(ids), 500):
        files = session.exec(
            select(EvidenceFile)
            .where(col(EvidenceFile.record_id).in_(ids[start : start + 500]))
            .where(col(EvidenceFile.removed_at).is_(None))
        )
        for evidence in files:
            evidence.content = b""
            evidence.removed_at = now
            session.add(evidence)
            done += 1
    session.flush()
    return done


def size_label(size: int) -> str:
    """A file size for people: "820 KB", "1.4 MB"."""
    if size < 1024:
        return f"{size} B"
    if size < 1024 * 1024:
        return f"{max(1, round(size / 1024))} KB"
    return f"{size / (1024 * 1024):.1f} MB"
