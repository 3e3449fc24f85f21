"""Users, roles, tokens and records, as plain data. Times are epoch seconds."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Role(StrEnum):
    PATIENT = "patient"
    DOCTOR = "doctor"
    CLINIC_ADMIN = "clinic_admin"
    OPERATOR = "operator"
    ADMIN = "admin"


PENDING, VERIFIED, REJECTED, APPROVED = "pending", "verified", "rejected", "approved"
REVIEWS = (PENDING, APPROVED, REJECTED)  # a document's review

LOCALES = ("ru", "en")  # the languages the apps speak; Russian first
MAX_SAVED_ADDRESSES = 20


@dataclass(frozen=True, slots=True)
class SavedAddress:
    """A place a patient keeps for booking again: home, a parent's flat, the office."""

    label: str  # the patient's name for it, e.g. "Дом"
    address: str  # the address as found (geocoded) or typed
    lat: float
    lon: float


@dataclass(slots=True)
class User:
    """One account. Doctors carry their clinical profile; clinic admins their clinic."""

    user_id: str
    email: str  # stored lower-cased; unique
    password_hash: str  # argon2id, encoded with its parameters
    role: Role
    created_s: float
    updated_s: float
    first_name: str = ""
    last_name: str = ""
    phone: str | None = None  # unique when set
    is_active: bool = True  # False: blocked by an admin (cannot log in, tokens revoked)
    blocked_reason: str = ""
    is_verified: bool = False  # doctors: an admin verified them; only then may they go online
    clinic_id: str | None = None  # doctors and clinic admins belong to at most one clinic
    specialization: str | None = None
    license_number: str | None = None  # never shown to patients
    license_expires_s: float | None = None
    experience_years: int | None = None
    languages: tuple[str, ...] = ()
    treats_adults: bool = True
    treats_children: bool = False
    rating: float | None = None  # mean of reviews; None until the first one
    locale: str | None = None  # "ru" or "en"; None: the browser's language decides
    saved_addresses: tuple[SavedAddress, ...] = ()
    # doctors: why an admin refused to verify them (None: not refused). Cleared on approval.
    rejected_reason: str | None = None

    @property
    def verification(self) -> str:
        """A doctor's verification: "verified", "rejected" or "pending"."""
        if self.is_verified:
            return VERIFIED
        return REJECTED if self.rejected_reason is not None else PENDING


@dataclass(frozen=True, slots=True)
class RefreshToken:
    """One refresh token of a family (a login and every rotation that followed it).

    A token may be used once; a second use means it leaked, and the whole family is
    revoked."""

    token_id: str  # the JWT's jti
    family_id: str
    user_id: str
    issued_s: float
    expires_s: float
    used_s: float | None = None
    revoked_s: float | None = None


@dataclass(frozen=True, slots=True)
class IdempotentResponse:
    """The first answer given to a request with an Idempotency-Key, replayed on retries."""

    user_id: str
    key: str
    request_sha256: str  # hex digest of the method, path and body; another body is an error
    status_code: int
    body: bytes
    created_s: float


@dataclass(frozen=True, slots=True)
class AuditRecord:
    """Who read or changed what (bookings, users), kept for the security audit."""

    at_s: float
    actor_id: str
    actor_role: str
    action: str  # "booking.read", "booking.create", "user.block", ...
    target_type: str  # "booking", "user", ...
    target_id: str
    request_id: str = ""
    ip: str = ""
    detail: str = ""


@dataclass(frozen=True, slots=True)
class DoctorDocument:
    """A verification document: its metadata, the scan's (kept in a FileStore under its
    sha256), and an admin's review of it."""

    document_id: str
    doctor_id: str
    kind: str  # "license", "diploma", "id", "certificate"
    number: str
    issued_by: str
    uploaded_s: float
    valid_until_s: float | None = None
    sha256: str = ""  # of the file (the uploaded scan's, or as the doctor declared it)
    content_type: str = ""  # of the uploaded scan, sniffed from its bytes; "": no scan yet
    size_bytes: int = 0
    file_uploaded_s: float | None = None
    review: str = PENDING  # PENDING, APPROVED or REJECTED
    review_reason: str = ""  # why it was rejected, shown to the doctor
    reviewed_s: float | None = None

    @property
    def has_file(self) -> bool:
        return self.content_type != ""
