"""What the patient's app needs: choosing a doctor, what a visit asks for, the profile's
language and saved addresses, an honest count of free doctors, the streets to take."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from routing import Router
from tests.api_harness import HOME, NEARBY, Api, running_api

FAR = (60.1750, 24.9300)  # a kilometre or so from HOME


@pytest.fixture
async def api(helsinki_router: Router, tmp_path: Path) -> AsyncIterator[Api]:
    async with running_api(helsinki_router, tmp_path) as a:
        yield a


async def test_patients_list_free_doctors_who_fit_nearest_by_road(api: Api) -> None:
    near_id, _ = await api.doctor(on_shift_at=NEARBY, first_name="Анна", languages=["ru"])
    far_id, _ = await api.doctor(on_shift_at=FAR, languages=["ru", "en"], treats_children=True)
    await api.doctor()  # verified, not on shift: not listed
    _, patient = await api.patient()
    url = f"/api/v1/doctors/available?lat={HOME[0]}&lon={HOME[1]}"
    r = await api.client.get(url, headers=api.auth(patient))
    assert r.status_code == 200, r.text
    doctors = r.json()["doctors"]
    assert [d["doctor_id"] for d in doctors] == [near_id, far_id]
    assert doctors[0]["first_name"] == "Анна" and doctors[0]["eta_s"] < doctors[1]["eta_s"]
    assert all(d["distance_m"] % 100 == 0 for d in doctors)  # no exact positions for patients
    child = await api.client.get(url + "&child=true", headers=api.auth(patient))
    assert [d["doctor_id"] for d in child.json()["doctors"]] == [far_id]
    english = await api.client.get(url + "&language=en", headers=api.auth(patient))
    assert [d["doctor_id"] for d in english.json()["doctors"]] == [far_id]
    _, doctor = await api.doctor()
    assert (await api.client.get(url, headers=api.auth(doctor))).status_code == 403


async def test_a_chosen_doctor_is_offered_first_and_the_booking_says_what_was_asked(
    api: Api,
) -> None:
    await api.doctor(on_shift_at=NEARBY)
    far_id, far_token = await api.doctor(on_shift_at=FAR, treats_children=True)
    _, patient = await api.patient()
    booking = await api.book(
        patient, requested_doctor_id=far_id, others_if_declined=False,
        patient_is_child=True, language="ru",
    )  # fmt: skip
    assert booking["requested_doctor_id"] == far_id and booking["others_if_declined"] is False
    assert booking["patient_is_child"] is True and booking["language"] == "ru"
    offers = await api.client.get("/api/v1/offers", headers=api.auth(far_token))
    assert [o["booking_id"] for o in offers.json()] == [booking["id"]]  # not the nearer one
    r = await api.client.post(
        "/api/v1/bookings",
        json={"latitude": HOME[0], "longitude": HOME[1], "requested_doctor_id": "nobody"},
        headers=api.auth(patient),
    )
    assert r.status_code == 422 and "nobody" in r.json()["detail"]


async def test_the_profile_keeps_its_language_and_saved_addresses(api: Api) -> None:
    _, patient = await api.patient()
    me = await api.client.get("/api/v1/auth/me", headers=api.auth(patient))
    assert me.json()["locale"] is None and me.json()["saved_addresses"] == []
    home = {
        "label": "Дом",
        "address": "Mannerheimintie 1",
        "latitude": HOME[0],
        "longitude": HOME[1],
    }
    r = await api.client.patch(
        "/api/v1/auth/me",
        json={"locale": "ru", "saved_addresses": [home]},
        headers=api.auth(patient),
    )
    assert r.status_code == 200, r.text
    assert r.json()["locale"] == "ru" and r.json()["saved_addresses"] == [home]
    again = await api.client.get("/api/v1/auth/me", headers=api.auth(patient))
    assert again.json()["saved_addresses"] == [home]
    too_many = [{**home, "label": f"#{i}"} for i in range(21)]
    for bad in ({"saved_addresses": too_many}, {"locale": "de"}, {"saved_addresses": None},
                {"saved_addresses": [{**home, "latitude": 91}]}):  # fmt: skip
        r = await api.client.patch("/api/v1/auth/me", json=bad, headers=api.auth(patient))
        assert r.status_code == 422, (bad, r.text)
    r = await api.client.patch("/api/v1/auth/me", json={"locale": None}, headers=api.auth(patient))
    assert r.json()["locale"] is None and r.json()["saved_addresses"] == [home]


async def test_the_estimate_counts_every_free_doctor_who_fits_not_only_the_ranked(
    api: Api,
) -> None:
    k = api.runtime.matcher.policy.k if hasattr(api.runtime, "matcher") else 20
    for i in range(k + 3):
        await api.doctor(on_shift_at=(NEARBY[0] + i * 1e-4, NEARBY[1]))
    _, patient = await api.patient()
    r = await api.client.post(
        "/api/v1/bookings/estimate",
        json={"latitude": HOME[0], "longitude": HOME[1]},
        headers=api.auth(patient),
    )
    assert r.status_code == 200 and r.json()["doctors_available"] == k + 3


async def test_a_route_names_the_streets_to_take(api: Api) -> None:
    _, patient = await api.patient()
    r = await api.client.get(
        f"/api/v1/map/route?from_lat={NEARBY[0]}&from_lon={NEARBY[1]}"
        f"&to_lat={FAR[0]}&to_lon={FAR[1]}",
        headers=api.auth(patient),
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["steps"] and any(s["street"] for s in body["steps"])
    assert sum(s["distance_m"] for s in body["steps"]) == pytest.approx(body["distance_m"], abs=2)
