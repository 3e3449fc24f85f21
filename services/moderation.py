"""Doctors' documents and their verification: scans uploaded, kept and read back under
object-level rules; the admins' moderation queue and decisions, audited.

A doctor uploads a scan for one of their documents: it must be a PDF, JPEG or PNG by its
first bytes (whatever the client calls it) and at most `max_bytes`; it is kept in the
FileStore under its SHA-256, and the document's review goes back to pending, so the
doctor reappears in the moderation queue. Only an admin and the owning doctor read it.

An admin's decision covers the doctor and every document then pending: approve verifies
the doctor (they may go online) and approves those documents; reject marks the doctor
rejected with the reason (shown to them) and rejects those documents with it. A rejected
doctor who adds or replaces a document is in the queue again."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass

from accounts import (
    APPROVED,
    MAX_DOCUMENT_BYTES,
    PENDING,
    REJECTED,
    AccountStore,
    DoctorDocument,
    FileStore,
    Role,
    User,
    file_key,
    sniff,
)
from services.audit import AuditTrail
from services.auth import ConflictError, NotFoundError, Principal
from services.bookings import InvalidRequestError
from services.errors import TooLargeError, UnsupportedMediaError
from services.pages import cursor_checked

MAX_REASON = 500


@dataclass(frozen=True, slots=True)
class Submission:
    """A doctor in the moderation queue."""

    doctor: User
    submitted_s: float
    documents: list[DoctorDocument]


@dataclass(frozen=True, slots=True)
class Where:
    """Who asked, from where: for the audit trail."""

    who: Principal
    request_id: str = ""
    ip: str = ""


class ModerationService:
    def __init__(
        self,
        accounts: AccountStore,
        files: FileStore,
        audit: AuditTrail,
        clock: Callable[[], float],
        *,
        max_bytes: int = MAX_DOCUMENT_BYTES,
    ) -> None:
        self.accounts = accounts
        self.files = files
        self.audit = audit
        self.clock = clock
        self.max_bytes = max_bytes

    def _audit(
        self, at: Where, action: str, target_type: str, target_id: str, detail: str = ""
    ) -> None:
        self.audit.record(
            at.who.user_id, at.who.role, action, target_type, target_id,
            request_id=at.request_id, ip=at.ip, detail=detail,
        )  # fmt: skip

    async def _document(self, who: Principal, document_id: str) -> DoctorDocument:
        """The document, when `who` may see it: an admin, or the doctor who owns it. Anyone
        else learns nothing (404, as for a document that does not exist)."""
        document = await self.accounts.document(document_id)
        if document is None or (who.role is not Role.ADMIN and document.doctor_id != who.user_id):
            raise NotFoundError(f"no document {document_id!r}")
        return document

    async def upload(self, at: Where, document_id: str, data: bytes) -> DoctorDocument:
        """Keep the scan of one of the caller's own documents; its review starts again."""
        document = await self._document(at.who, document_id)
        if document.doctor_id != at.who.user_id:
            raise NotFoundError(f"no document {document_id!r}")
        if len(data) > self.max_bytes:
            raise TooLargeError(f"a scan is at most {self.max_bytes} bytes")
        content_type = sniff(data)
        if content_type is None:
            raise UnsupportedMediaError(
                "a scan must be a PDF, JPEG or PNG file (read from its bytes)"
            )
        key = file_key(data)
        await self.files.put(key, data)
        now = self.clock()
        updated = dataclasses.replace(
            document, sha256=key, content_type=content_type, size_bytes=len(data),
            file_uploaded_s=now, review=PENDING, review_reason="", reviewed_s=None,
        )  # fmt: skip
        await self.accounts.update_document(updated)
        self._audit(
            at, "document.upload", "user", document.doctor_id, f"{document_id} {content_type}"
        )
        return updated

    async def file(self, at: Where, document_id: str) -> tuple[DoctorDocument, bytes]:
        """The scan, for an admin or its owner (404 for anyone else; 409 while the document
        has no scan yet: it exists, its file is still to come)."""
        document = await self._document(at.who, document_id)
        if not document.has_file:
            raise ConflictError(f"document {document_id!r} has no scan yet: upload it first")
        data = await self.files.get(document.sha256)
        if data is None:
            raise NotFoundError(f"document {document_id!r}: its scan is missing from the store")
        if at.who.role is Role.ADMIN:
            self._audit(at, "document.read", "user", document.doctor_id, document_id)
        return document, data

    async def queue(self, after: str | None, limit: int) -> tuple[list[Submission], str | None]:
        with cursor_checked():
            page = await self.accounts.moderation_page(after=after or None, limit=limit)
        items = [
            Submission(doctor, submitted_s, await self.accounts.documents_of(doctor.user_id))
            for doctor, submitted_s in page.items
        ]
        return items, page.after

    async def decide(self, at: Where, doctor_id: str, approve: bool, reason: str) -> User:
        reason = reason.strip()
        if not approve and not reason:
            raise InvalidRequestError("a rejection needs a reason the doctor will read")
        if len(reason) > MAX_REASON:
            raise InvalidRequestError(f"the reason is at most {MAX_REASON} characters")
        doctor = await self.accounts.user(doctor_id)
        if doctor is None or doctor.role is not Role.DOCTOR:
            raise NotFoundError(f"no doctor {doctor_id!r}")
        now = self.clock()
        review = APPROVED if approve else REJECTED
        for document in await self.accounts.documents_of(doctor_id):
            if document.review == PENDING:
                await self.accounts.update_document(
                    dataclasses.replace(
                        document, review=review, review_reason="" if approve else reason,
                        reviewed_s=now,
                    )
                )  # fmt: skip
        doctor.is_verified = approve
        doctor.rejected_reason = None if approve else reason
        doctor.updated_s = now
        await self.accounts.update_user(doctor)
        self._audit(at, "doctor.verify" if approve else "doctor.reject", "user", doctor_id, reason)
        return doctor
