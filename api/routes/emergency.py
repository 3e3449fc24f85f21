"""What the apps show before an emergency booking: the numbers to call and the advice, as
admins set them at run time (`PATCH /admin/settings`). The emergency service itself
(incidents, hand-offs to 103/112) comes with its own issue."""

from __future__ import annotations

from fastapi import APIRouter

from api.schemas import EmergencyNumberIO, Output
from api.security import AnyUserDep, RuntimeDep

router = APIRouter(prefix="/emergency", tags=["emergency"])


class EmergencyContactsOut(Output):
    numbers: list[EmergencyNumberIO]
    text_ru: str
    text_en: str


@router.get("/contacts", summary="The emergency numbers to call and the advice, ru and en")
async def emergency_contacts(who: AnyUserDep, runtime: RuntimeDep) -> EmergencyContactsOut:
    settings = runtime.ops.settings
    return EmergencyContactsOut(
        numbers=[
            EmergencyNumberIO(label_ru=n.label_ru, label_en=n.label_en, number=n.number)
            for n in settings.emergency_numbers
        ],
        text_ru=settings.emergency_text_ru,
        text_en=settings.emergency_text_en,
    )
