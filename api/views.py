"""Domain objects to response bodies, shaped by who asks."""

from __future__ import annotations

from accounts import DoctorDocument, Role, User
from api.schemas import (
    BookingOut,
    DoctorPublic,
    DoctorStateOut,
    DocumentOut,
    MessageOut,
    SavedAddressOut,
    StatusEntry,
    UserOut,
    at,
    instant,
)
from dispatch_core import Booking
from services.auth import Principal
from services.doctors import DoctorState

STAFF = (Role.OPERATOR, Role.ADMIN, Role.CLINIC_ADMIN)


def doctor_public(user: User) -> DoctorPublic:
    return DoctorPublic(
        id=user.user_id,
        first_name=user.first_name,
        last_name=user.last_name,
        specialization=user.specialization,
        experience_years=user.experience_years,
        rating=user.rating,
        languages=list(user.languages),
    )


def user_out(user: User) -> UserOut:
    return UserOut(
        id=user.user_id,
        email=user.email,
        role=user.role,
        first_name=user.first_name,
        last_name=user.last_name,
        phone=user.phone,
        is_active=user.is_active,
        is_verified=user.is_verified,
        clinic_id=user.clinic_id,
        specialization=user.specialization,
        license_number=user.license_number,
        license_expires_at=at(user.license_expires_s),
        experience_years=user.experience_years,
        languages=list(user.languages),
        treats_adults=user.treats_adults,
        treats_children=user.treats_children,
        rating=user.rating,
        created_at=instant(user.created_s),
        locale=user.locale,  # type: ignore[arg-type]
        saved_addresses=[
            SavedAddressOut(label=a.label, address=a.address, latitude=a.lat, longitude=a.lon)
            for a in user.saved_addresses
        ],
        verification=user.verification if user.role is Role.DOCTOR else "verified",  # type: ignore[arg-type]
        verification_reason=user.rejected_reason if user.role is Role.DOCTOR else None,
    )


def document_out(d: DoctorDocument) -> DocumentOut:
    return DocumentOut(
        document_id=d.document_id, id=d.document_id, kind=d.kind, number=d.number,
        issued_by=d.issued_by, valid_until=at(d.valid_until_s), uploaded_at=instant(d.uploaded_s),
        sha256=d.sha256, content_type=d.content_type or None,  # type: ignore[arg-type]
        size_bytes=d.size_bytes if d.has_file else None, has_file=d.has_file,
        review=d.review,  # type: ignore[arg-type]
        review_reason=d.review_reason or None,
    )  # fmt: skip


def booking_out(
    booking: Booking, who: Principal, doctor: User | None, currency: str, *, full: bool = True
) -> BookingOut:
    staff = who.role in STAFF
    return BookingOut(
        id=booking.booking_id,
        status=booking.status,
        priority=booking.priority,
        is_emergency=booking.is_emergency,
        call_type=booking.call_type,
        address=booking.address,
        latitude=booking.latitude,
        longitude=booking.longitude,
        symptoms=booking.symptoms,
        notes=booking.notes,
        clinic_id=booking.clinic_id,
        patient_id=booking.patient_id,
        doctor=doctor_public(doctor) if doctor is not None else None,
        created_at=instant(booking.created_s),
        scheduled_at=at(booking.scheduled_s),
        assigned_at=at(booking.assigned_s),
        completed_at=at(booking.completed_s),
        cancelled_at=at(booking.cancelled_s),
        estimated_price_kopecks=booking.estimated_price_kopecks,
        final_price_kopecks=booking.final_price_kopecks,
        currency=currency,
        requested_doctor_id=booking.requested_doctor_id,
        others_if_declined=booking.others_if_declined,
        patient_is_child=booking.patient_is_child,
        language=booking.language,
        history=[
            StatusEntry(
                status=u.new_status,
                at=instant(u.at_s),
                reason=u.reason,
                by=u.updated_by if staff else None,
            )
            for u in booking.history
            # Staff see everything; others the status changes only (not which doctors
            # were asked and declined, nor priority changes).
            if staff or u.old_status != u.new_status
        ]
        if full
        else [],
        messages=[
            MessageOut(
                sender_id=m.sender_id,
                sender_role=m.sender_role.value,
                type=m.message_type,
                content=m.content,
                at=instant(m.at_s),
            )
            for m in booking.messages
        ]
        if full
        else [],
    )


def doctor_state_out(state: DoctorState) -> DoctorStateOut:
    return DoctorStateOut(
        doctor_id=state.doctor_id,
        status=state.status.name.lower(),  # type: ignore[arg-type]
        latitude=state.lat,
        longitude=state.lon,
        fix_age_s=state.fix_age_s,
        stale=state.stale,
    )
