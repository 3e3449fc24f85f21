"""Doctors' scans and their verification, through the API: uploads sniffed and bounded,
downloads for admins and the owner only, the moderation queue and the decision."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from accounts import sniff
from api.uploads import form_part
from routing import Router
from services.bookings import InvalidRequestError
from services.errors import UnsupportedMediaError
from tests.api_harness import Api, running_api

PDF = b"%PDF-1.7\n" + bytes(range(256)) * 4 + b"\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 100
JPEG = b"\xff\xd8\xff\xe0" + b"jfif" * 50
GIF = b"GIF89a" + b"\x00" * 50


@pytest.fixture(params=["sqlite", "postgis"])
async def api(
    request: pytest.FixtureRequest, helsinki_router: Router, tmp_path: Path
) -> AsyncIterator[Api]:
    async with running_api(
        helsinki_router, tmp_path, request.param, max_document_bytes=64 * 1024
    ) as a:
        yield a


async def add_document(api: Api, token: str, number: str = "77-01") -> dict[str, Any]:
    r = await api.client.post(
        "/api/v1/doctors/me/documents",
        json={"kind": "license", "number": number, "issued_by": "Minzdrav"},
        headers=api.auth(token),
    )
    assert r.status_code == 201, r.text
    return r.json()  # type: ignore[no-any-return]


async def upload(api: Api, token: str, document_id: str, data: bytes, **kw: Any) -> Any:
    files = {"file": kw.pop("file", ("scan.bin", data, "application/octet-stream"))}
    return await api.client.post(
        f"/api/v1/doctors/me/documents/{document_id}/file",
        files=files,
        headers=api.auth(token),
        **kw,
    )


async def test_a_scan_is_sniffed_kept_and_read_back_by_its_owner_and_admins(api: Api) -> None:
    doctor, token = await api.doctor(verified=False)
    other, other_token = await api.doctor(verified=False)
    document = await add_document(api, token)
    assert document["has_file"] is False and document["review"] == "pending"
    # Before its scan the document exists and its file is still to come: 409, not 404.
    for path, who in (
        (f"/api/v1/doctors/me/documents/{document['document_id']}/file", token),
        (f"/api/v1/admin/documents/{document['document_id']}/file", api.admin_token),
    ):
        r = await api.client.get(path, headers=api.auth(who))
        assert r.status_code == 409, r.text
        assert "no scan yet" in r.json()["detail"]

    # The client calls it a PNG: what counts is its bytes.
    r = await upload(api, token, document["document_id"], PDF, file=("x.png", PDF, "image/png"))
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["content_type"] == "application/pdf"
    assert out["size_bytes"] == len(PDF)
    assert out["sha256"] == hashlib.sha256(PDF).hexdigest()
    assert out["has_file"] is True and out["review"] == "pending"

    for path, who in (
        (f"/api/v1/doctors/me/documents/{document['document_id']}/file", token),
        (f"/api/v1/admin/documents/{document['document_id']}/file", api.admin_token),
    ):
        r = await api.client.get(path, headers=api.auth(who))
        assert r.status_code == 200, r.text
        assert r.content == PDF
        assert r.headers["content-type"] == "application/pdf"
        assert r.headers["x-content-type-options"] == "nosniff"

    # Another doctor: neither reads nor replaces it, and learns nothing of it (404).
    r = await api.client.get(
        f"/api/v1/doctors/me/documents/{document['document_id']}/file",
        headers=api.auth(other_token),
    )
    assert r.status_code == 404
    r = await upload(api, other_token, document["document_id"], PNG)
    assert r.status_code == 404
    r = await api.client.get(
        f"/api/v1/doctors/me/documents/{document['document_id']}/file", headers=api.auth(token)
    )
    assert r.content == PDF
    # Nor does a patient or an operator reach the admin's download.
    _, patient = await api.patient()
    _, operator = await api.staff("operator")
    for who in (patient, operator, other_token):
        r = await api.client.get(
            f"/api/v1/admin/documents/{document['document_id']}/file", headers=api.auth(who)
        )
        assert r.status_code == 403
    # The admin's read is in the audit trail.
    await api.runtime.audit.flush()
    r = await api.client.get(
        "/api/v1/admin/audit",
        params={"target_id": doctor, "action": "document.read"},
        headers=api.auth(api.admin_token),
    )
    assert [e["detail"] for e in r.json()["items"]] == [document["document_id"]]
    assert other


async def test_only_pdf_jpeg_and_png_within_the_limit_are_taken(api: Api) -> None:
    _, token = await api.doctor(verified=False)
    document_id = (await add_document(api, token))["document_id"]
    for data, expected in ((PNG, "image/png"), (JPEG, "image/jpeg")):
        r = await upload(api, token, document_id, data)
        assert r.status_code == 200 and r.json()["content_type"] == expected
    r = await upload(api, token, document_id, GIF, file=("x.pdf", GIF, "application/pdf"))
    assert r.status_code == 415
    assert r.headers["content-type"] == "application/problem+json"
    r = await upload(api, token, document_id, b"")
    assert r.status_code == 415
    big = b"%PDF-" + b"0" * (64 * 1024)
    r = await upload(api, token, document_id, big)
    assert r.status_code == 413
    # Over the body limit of the upload route itself: refused before it is read.
    r = await upload(api, token, document_id, b"%PDF-" + b"0" * (11 * 1024 * 1024))
    assert r.status_code == 413
    # Not multipart at all; a multipart body without the part.
    r = await api.client.post(
        f"/api/v1/doctors/me/documents/{document_id}/file",
        content=PDF,
        headers={**api.auth(token), "content-type": "application/pdf"},
    )
    assert r.status_code == 415
    r = await api.client.post(
        f"/api/v1/doctors/me/documents/{document_id}/file",
        files={"scan": ("x.pdf", PDF, "application/pdf")},
        headers=api.auth(token),
    )
    assert r.status_code == 422
    # What failed changed nothing: the last good upload stands.
    r = await api.client.get(
        f"/api/v1/doctors/me/documents/{document_id}/file", headers=api.auth(token)
    )
    assert r.content == JPEG
    r = await upload(api, token, "no-such-document", PDF)
    assert r.status_code == 404


async def test_moderation_queue_and_decisions(api: Api) -> None:
    admin = api.auth(api.admin_token)
    first, first_token = await api.doctor(verified=False)
    second, second_token = await api.doctor(verified=False)
    doc = await add_document(api, second_token)
    await upload(api, second_token, doc["document_id"], PNG)

    r = await api.client.get("/api/v1/admin/moderation/doctors", headers=admin)
    assert r.status_code == 200, r.text
    queue = r.json()["items"]
    ids = [i["doctor_id"] for i in queue]
    assert ids.index(first) < ids.index(second)  # oldest first
    entry = queue[ids.index(second)]
    assert entry["documents"][0]["has_file"] is True
    assert entry["verification"] == "pending"

    # A rejection needs a reason, at most 500 characters.
    url = f"/api/v1/admin/doctors/{second}/verification"
    assert (
        await api.client.post(url, json={"decision": "reject"}, headers=admin)
    ).status_code == 422
    r = await api.client.post(url, json={"decision": "reject", "reason": "x" * 501}, headers=admin)
    assert r.status_code == 422
    r = await api.client.post(
        url, json={"decision": "reject", "reason": "the licence scan is unreadable"}, headers=admin
    )
    assert r.status_code == 200, r.text
    me = (await api.client.get("/api/v1/auth/me", headers=api.auth(second_token))).json()
    assert me["verification"] == "rejected"
    assert me["verification_reason"] == "the licence scan is unreadable"
    docs = (
        await api.client.get("/api/v1/doctors/me/documents", headers=api.auth(second_token))
    ).json()
    assert docs[0]["review"] == "rejected"
    assert docs[0]["review_reason"] == "the licence scan is unreadable"
    r = await api.client.post(
        "/api/v1/doctors/me/shift", json={"latitude": 60.17, "longitude": 24.94},
        headers=api.auth(second_token),
    )  # fmt: skip
    assert r.status_code == 403
    ids = [
        i["doctor_id"]
        for i in (await api.client.get("/api/v1/admin/moderation/doctors", headers=admin)).json()[
            "items"
        ]
    ]
    assert second not in ids and first in ids

    # A new scan puts them back in the queue; approval verifies them.
    await upload(api, second_token, doc["document_id"], JPEG)
    ids = [
        i["doctor_id"]
        for i in (await api.client.get("/api/v1/admin/moderation/doctors", headers=admin)).json()[
            "items"
        ]
    ]
    assert second in ids
    r = await api.client.post(url, json={"decision": "approve"}, headers=admin)
    assert r.status_code == 200
    assert r.json()["verification"] == "verified" and r.json()["verification_reason"] is None
    docs = (
        await api.client.get("/api/v1/doctors/me/documents", headers=api.auth(second_token))
    ).json()
    assert docs[0]["review"] == "approved"
    ids = [
        i["doctor_id"]
        for i in (await api.client.get("/api/v1/admin/moderation/doctors", headers=admin)).json()[
            "items"
        ]
    ]
    assert second not in ids

    # Both decisions are in the audit trail, newest first.
    await api.runtime.audit.flush()
    r = await api.client.get(
        "/api/v1/admin/audit", params={"target_id": second, "target_type": "user"}, headers=admin
    )
    actions = [e["action"] for e in r.json()["items"] if e["action"].startswith("doctor.")]
    assert actions == ["doctor.verify", "doctor.reject"]
    assert (
        await api.client.post(
            "/api/v1/admin/doctors/nobody/verification", json={"decision": "approve"}, headers=admin
        )
    ).status_code == 404
    assert first_token


async def test_the_queue_pages_through_every_doctor_once(api: Api) -> None:
    made = {(await api.doctor(verified=False))[0] for _ in range(7)}
    seen: list[str] = []
    cursor = None
    while True:
        params = {"limit": 3, **({"cursor": cursor} if cursor else {})}
        r = await api.client.get(
            "/api/v1/admin/moderation/doctors", params=params, headers=api.auth(api.admin_token)
        )
        assert r.status_code == 200, r.text
        seen += [i["doctor_id"] for i in r.json()["items"]]
        cursor = r.json()["next_cursor"]
        if cursor is None:
            break
    assert sorted(seen) == sorted(made)
    r = await api.client.get(
        "/api/v1/admin/moderation/doctors",
        params={"cursor": "bm90LWEtY3Vyc29y"},
        headers=api.auth(api.admin_token),
    )
    assert r.status_code == 422


def test_sniffing_and_the_multipart_reader() -> None:
    assert sniff(PDF) == "application/pdf"
    assert sniff(PNG) == "image/png"
    assert sniff(JPEG) == "image/jpeg"
    assert sniff(GIF) is None and sniff(b"") is None
    body = (
        b'--XyZ\r\nContent-Disposition: form-data; name="note"\r\n\r\nhello\r\n'
        b'--XyZ\r\nContent-Disposition: form-data; name="file"; filename="a.pdf"\r\n'
        b"Content-Type: application/pdf\r\n\r\n" + PDF + b"\r\n--XyZ--\r\n"
    )
    assert form_part(body, 'multipart/form-data; boundary="XyZ"', "file") == PDF
    assert form_part(body, "multipart/form-data; boundary=XyZ", "note") == b"hello"
    with pytest.raises(InvalidRequestError):
        form_part(body, "multipart/form-data; boundary=XyZ", "other")
    with pytest.raises(InvalidRequestError):
        form_part(body[:40], "multipart/form-data; boundary=XyZ", "file")
    with pytest.raises(UnsupportedMediaError):
        form_part(body, "application/json", "file")
