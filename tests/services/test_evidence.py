"""Evidence files (R3) in the service: what is accepted, who may attach, open and remove, and
that every change is audited in its own transaction."""

from __future__ import annotations

import hashlib

import pytest
import sqlalchemy as sa
from flask import Flask
from sqlmodel import Session, col, select

from app.db import get_session
from app.models import AcceptanceRecord, AuditEvent, EvidenceFile, RecordStatus, User, utcnow
from app.services import evidence
from app.services.errors import InvalidTransition, NotFound, PermissionDenied, ValidationFailed
from tests.conftest import AppFactory
from tests.support import Users, load_users, submit

PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(40))
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(range(40))
HTML = b"<!doctype html><script>alert(document.cookie)</script>"


def attach(db: Session, user: User, record: AcceptanceRecord, name: str, content: bytes) -> str:
    """Attach and commit; the file's public id."""
    made = evidence.attach(db, actor=user, record=record, filename=name, content=content)
    db.commit()
    return made.public_id


def events(db: Session, record: AcceptanceRecord, action: str) -> list[AuditEvent]:
    return list(
        db.exec(
            select(AuditEvent)
            .where(AuditEvent.subject_id == record.public_id)
            .where(AuditEvent.action == action)
        )
    )


def stored(db: Session) -> list[EvidenceFile]:
    return list(db.exec(select(EvidenceFile).order_by(col(EvidenceFile.id))))


# --- what a file may be ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (PDF, "application/pdf"),
        (PNG, "image/png"),
        (JPEG, "image/jpeg"),
        (HTML, None),
        (b"GIF89a" + bytes(20), None),
        (b"PK\x03\x04 a zip or docx", None),
        (b"  %PDF-1.4 the header must come first", None),
        (b"\x89PNG but not the full signature", None),
        (b"", None),
    ],
)
def test_the_type_comes_from_the_first_bytes(content: bytes, expected: str | None) -> None:
    assert evidence.detect_type(content) == expected


@pytest.mark.parametrize(
    ("name", "content_type", "expected"),
    [
        ("signed.pdf", "application/pdf", "signed.pdf"),
        ("Signed.PDF", "application/pdf", "Signed.pdf"),
        ("../../etc/passwd.pdf", "application/pdf", "passwd.pdf"),
        ("C:\\Users\\kim\\Desktop\\계약서 서명본.pdf", "application/pdf", "계약서 서명본.pdf"),
        ("a\x00b\r\nc\u202e.pdf", "application/pdf", "abc.pdf"),
        ("  many    spaces  .pdf", "application/pdf", "many spaces.pdf"),
        (".htaccess", "application/pdf", "htaccess.pdf"),
        ("photo.jpg", "image/png", "photo.png"),
        ("photo.jpeg", "image/jpeg", "photo.jpeg"),
        ("report.final", "application/pdf", "report.final.pdf"),
        ("", "image/jpeg", "evidence.jpg"),
        (None, "application/pdf", "evidence.pdf"),
        ("///", "application/pdf", "evidence.pdf"),
        ("x" * 300 + ".pdf", "application/pdf", "x" * 116 + ".pdf"),
    ],
)
def test_file_names_are_cleaned_for_display_and_download(
    name: str | None, content_type: str, expected: str
) -> None:
    assert evidence.clean_filename(name, content_type) == expected


def test_a_pdf_is_stored_whole_with_its_hash_and_an_audit_event(db: Session, users: Users) -> None:
    record = submit(db, users.a_submitter)
    file_id = attach(db, users.a_submitter, record, "C:\\scans\\signed.pdf", PDF)

    [row] = stored(db)
    assert (row.public_id, row.record_id, row.filename) == (file_id, record.id, "signed.pdf")
    assert (row.content_type, row.size_bytes) == ("application/pdf", len(PDF))
    assert row.sha256 == hashlib.sha256(PDF).hexdigest()
    assert row.content == PDF
    assert row.uploaded_by_id == users.a_submitter.id
    [event] = events(db, record, "acceptance.evidence_added")
    assert event.actor_user_id == users.a_submitter.id
    assert event.organization_id == record.reseller_id
    assert event.details == {
        "file": file_id,
        "filename": "signed.pdf",
        "content_type": "application/pdf",
        "size": len(PDF),
        "sha256": row.sha256,
    }


def test_an_image_named_pdf_is_kept_as_the_image_it_is(db: Session, users: Users) -> None:
    record = submit(db, users.a_submitter)
    attach(db, users.a_submitter, record, "scan.pdf", PNG)
    [row] = stored(db)
    assert (row.content_type, row.filename) == ("image/png", "scan.png")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (HTML, "not a PDF, PNG or JPEG"),
        (b"", "The file is empty"),
        (PDF + bytes(evidence.MAX_BYTES), "larger than 5 MB"),
    ],
)
def test_a_refused_file_writes_nothing(
    db: Session, users: Users, content: bytes, message: str
) -> None:
    record = submit(db, users.a_submitter)
    audit_before = len(list(db.exec(select(AuditEvent))))
    with pytest.raises(ValidationFailed) as refused:
        evidence.attach(
            db, actor=users.a_submitter, record=record, filename="x.pdf", content=content
        )
    db.rollback()
    assert message in refused.value.errors["file"][0]
    assert stored(db) == []
    assert len(list(db.exec(select(AuditEvent)))) == audit_before


def test_a_file_of_exactly_the_limit_is_accepted(db: Session, users: Users) -> None:
    record = submit(db, users.a_submitter)
    content = PDF + bytes(evidence.MAX_BYTES - len(PDF))
    attach(db, users.a_submitter, record, "big.pdf", content)
    [row] = stored(db)
    assert row.size_bytes == evidence.MAX_BYTES


def test_a_record_holds_at_most_five_files(db: Session, users: Users) -> None:
    record = submit(db, users.a_submitter)
    ids = [attach(db, users.a_submitter, record, f"page{n}.pdf", PDF) for n in range(5)]
    with pytest.raises(ValidationFailed) as refused:
        evidence.attach(db, actor=users.a_submitter, record=record, filename="6.pdf", content=PDF)
    db.rollback()
    assert "at most 5 files" in refused.value.errors["file"][0]
    # A removed file frees its place.
    evidence.remove(
        db, actor=users.a_submitter, record=record, evidence=evidence.get_file(db, record, ids[0])
    )
    db.commit()
    attach(db, users.a_submitter, record, "6.pdf", PDF)
    assert len(evidence.files_for(db, record)) == 5


# --- who may attach, and when ------------------------------------------------------------------


def test_only_the_records_reseller_attaches(db: Session, users: Users) -> None:
    record = submit(db, users.a_submitter)
    with pytest.raises(NotFound):
        evidence.attach(db, actor=users.b_submitter, record=record, filename="x.pdf", content=PDF)
    with pytest.raises(PermissionDenied):
        evidence.attach(db, actor=users.reviewer, record=record, filename="x.pdf", content=PDF)
    db.rollback()
    attach(db, users.a_admin, record, "by-admin.pdf", PDF)
    assert [f.filename for f in stored(db)] == ["by-admin.pdf"]


@pytest.mark.parametrize("status", ["rejected", "withdrawn"])
def test_nothing_is_added_to_a_dismissed_record(db: Session, users: Users, status: str) -> None:
    record = submit(db, users.a_submitter)
    record.status = status
    db.commit()
    with pytest.raises(InvalidTransition, match="rejected or withdrawn"):
        evidence.attach(db, actor=users.a_submitter, record=record, filename="x.pdf", content=PDF)
    db.rollback()
    assert stored(db) == []
    assert not evidence.may_attach(users.a_submitter, record)


@pytest.mark.parametrize("status", ["returned", "approved", "awaiting_customer", "confirmed"])
def test_evidence_can_follow_the_record_after_submission(
    db: Session, users: Users, status: str
) -> None:
    # The signed paper often comes back after the record was sent on; it is still its proof.
    record = submit(db, users.a_submitter)
    record.status = status
    db.commit()
    assert evidence.may_attach(users.a_submitter, record)
    attach(db, users.a_submitter, record, "late.pdf", PDF)
    assert len(stored(db)) == 1


# --- removal -----------------------------------------------------------------------------------


def second_submitter(db: Session, users: Users) -> User:
    colleague = User(
        organization_id=users.a_submitter.organization_id,
        email="colleague@a.test",
        name="Colleague",
        role=users.a_submitter.role,
        password_hash=users.a_submitter.password_hash,
    )
    db.add(colleague)
    db.commit()
    return colleague


def test_removal_drops_the_bytes_keeps_the_trail_and_is_audited(db: Session, users: Users) -> None:
    record = submit(db, users.a_submitter)
    file_id = attach(db, users.a_submitter, record, "wrong customer.pdf", PDF)
    target = evidence.get_file(db, record, file_id)
    evidence.remove(db, actor=users.a_submitter, record=record, evidence=target)
    db.commit()

    [row] = stored(db)
    assert row.content == b""
    assert row.removed_at is not None
    assert row.removed_by_id == users.a_submitter.id
    assert (row.filename, row.sha256) == ("wrong customer.pdf", hashlib.sha256(PDF).hexdigest())
    assert evidence.files_for(db, record) == []
    with pytest.raises(NotFound):
        evidence.get_file(db, record, file_id)
    [event] = events(db, record, "acceptance.evidence_removed")
    assert event.details["file"] == file_id
    assert event.actor_user_id == users.a_submitter.id


def test_only_the_uploader_or_a_reseller_admin_removes(db: Session, users: Users) -> None:
    record = submit(db, users.a_submitter)
    colleague = second_submitter(db, users)
    file_id = attach(db, users.a_submitter, record, "a.pdf", PDF)
    target = evidence.get_file(db, record, file_id)
    for who, error in (
        (colleague, PermissionDenied),
        (users.reviewer, PermissionDenied),
        (users.b_admin, PermissionDenied),
    ):
        with pytest.raises(error):
            evidence.remove(db, actor=who, record=record, evidence=target)
        db.rollback()
    assert evidence.files_for(db, record) != []
    evidence.remove(db, actor=users.a_admin, record=record, evidence=target)
    db.commit()
    assert evidence.files_for(db, record) == []


@pytest.mark.parametrize("status", ["approved", "confirmed", "rejected"])
def test_files_stay_once_the_provider_has_decided(db: Session, users: Users, status: str) -> None:
    record = submit(db, users.a_submitter)
    file_id = attach(db, users.a_submitter, record, "a.pdf", PDF)
    record.status = status
    db.commit()
    target = evidence.get_file(db, record, file_id)
    assert not evidence.may_remove(users.a_submitter, record, target)
    with pytest.raises(InvalidTransition):
        evidence.remove(db, actor=users.a_submitter, record=record, evidence=target)
    db.rollback()
    assert db.get_one(EvidenceFile, target.id).content == PDF


def test_a_file_is_found_only_through_its_own_record(db: Session, users: Users) -> None:
    mine = submit(db, users.a_submitter)
    other = submit(db, users.a_submitter)
    file_id = attach(db, users.a_submitter, mine, "a.pdf", PDF)
    assert evidence.get_file(db, mine, file_id).public_id == file_id
    with pytest.raises(NotFound):
        evidence.get_file(db, other, file_id)
    with pytest.raises(NotFound):
        evidence.remove(
            db, actor=users.a_submitter, record=other, evidence=evidence.get_file(db, mine, file_id)
        )


# --- lists and the export ------------------------------------------------------------------------


def test_lists_do_not_load_the_bytes(db: Session, users: Users) -> None:
    record = submit(db, users.a_submitter)
    attach(db, users.a_submitter, record, "a.pdf", PDF)
    db.expunge_all()
    [listed] = evidence.files_for(db, record)
    assert "content" in sa.inspect(listed).unloaded
    assert listed.content == PDF  # read when asked for (a download)


def test_evidence_by_record_summarises_the_given_records_only(db: Session, users: Users) -> None:
    first = submit(db, users.a_submitter)
    second = submit(db, users.b_submitter)
    bare = submit(db, users.a_submitter)
    attach(db, users.a_submitter, first, "one.pdf", PDF)
    attach(db, users.a_admin, first, "two.png", PNG)
    removed = attach(db, users.a_submitter, first, "gone.pdf", PDF)
    evidence.remove(
        db, actor=users.a_submitter, record=first, evidence=evidence.get_file(db, first, removed)
    )
    attach(db, users.b_submitter, second, "b.jpg", JPEG)
    db.commit()

    found = evidence.evidence_by_record(db, [first.id or 0, bare.id or 0])

    assert set(found) == {first.id}
    assert [(s.filename, s.content_type, s.size_bytes, s.uploaded_by) for s in found[first.id]] == [
        ("one.pdf", "application/pdf", len(PDF), users.a_submitter.email),
        ("two.png", "image/png", len(PNG), users.a_admin.email),
    ]
    assert found[first.id][0].sha256 == hashlib.sha256(PDF).hexdigest()
    assert evidence.evidence_by_record(db, []) == {}


def test_retention_discards_the_bytes_of_the_given_records(db: Session, users: Users) -> None:
    old = submit(db, users.a_submitter)
    kept = submit(db, users.a_submitter)
    attach(db, users.a_submitter, old, "old.pdf", PDF)
    attach(db, users.a_submitter, kept, "kept.pdf", PDF)
    assert evidence.discard_for_records(db, record_ids=[old.id or 0], now=utcnow()) == 1
    db.commit()
    assert evidence.files_for(db, old) == []
    assert [f.content for f in stored(db)] == [b"", PDF]


def test_bytes_round_trip_on_both_databases(make_app: AppFactory, database_url: str) -> None:
    app: Flask = make_app(database_url)
    every_byte = PNG + bytes(range(256)) * 64
    with app.app_context():
        db = get_session()
        users = load_users(db)
        record = submit(db, users.a_submitter)
        file_id = attach(db, users.a_submitter, record, "scan.png", every_byte)
        db.expunge_all()
        record = db.get_one(AcceptanceRecord, record.id)
        assert evidence.get_file(db, record, file_id).content == every_byte
        assert record.status == RecordStatus.SUBMITTED
