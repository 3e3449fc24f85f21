"""Files in and out: the one part of a multipart/form-data body a route takes, and a
stored scan as a download. (Parsed here, with the standard library: the body is
already bounded by BodyLimitMiddleware, so it is read whole.)"""

from __future__ import annotations

from typing import Any

from fastapi import Request, Response

from accounts import DoctorDocument
from services.bookings import InvalidRequestError
from services.errors import UnsupportedMediaError

UPLOAD_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {
                        "file": {
                            "type": "string",
                            "format": "binary",
                            "description": "a PDF, JPEG or PNG file",
                        }
                    },
                }
            }
        },
    }
}

_EXTENSIONS = {"application/pdf": "pdf", "image/jpeg": "jpg", "image/png": "png"}


def _params(header: str) -> tuple[str, dict[str, str]]:
    """A header's value and its parameters: `form-data; name="file"` -> form-data, {name: file}."""
    value, *rest = header.split(";")
    params: dict[str, str] = {}
    for item in rest:
        key, sep, val = item.strip().partition("=")
        if sep:
            val = val.strip()
            if len(val) >= 2 and val[0] == val[-1] == '"':
                val = val[1:-1]
            params[key.strip().lower()] = val
    return value.strip().lower(), params


def form_part(body: bytes, content_type: str, field: str) -> bytes:
    """The content of the part named `field` of a multipart/form-data body."""
    kind, params = _params(content_type)
    if kind != "multipart/form-data":
        raise UnsupportedMediaError("send the file as multipart/form-data")
    boundary = params.get("boundary", "")
    if not 1 <= len(boundary) <= 200:
        raise InvalidRequestError("the multipart body has no boundary")
    delimiter = b"--" + boundary.encode("latin-1", "replace")
    start = body.find(delimiter)
    if start < 0:
        raise InvalidRequestError("the multipart body has no parts")
    pos = start + len(delimiter)
    while not body.startswith(b"--", pos):
        if not body.startswith(b"\r\n", pos):
            raise InvalidRequestError("the multipart body is malformed")
        header_end = body.find(b"\r\n\r\n", pos + 2)
        if header_end < 0:
            raise InvalidRequestError("the multipart body is malformed")
        content_start = header_end + 4
        end = body.find(b"\r\n" + delimiter, content_start)
        if end < 0:
            raise InvalidRequestError("the multipart body is malformed")
        name = None
        for line in body[pos + 2 : header_end].decode("latin-1").split("\r\n"):
            key, _, value = line.partition(":")
            if key.strip().lower() == "content-disposition":
                _, disposition = _params(value)
                name = disposition.get("name")
        if name == field:
            return body[content_start:end]
        pos = end + 2 + len(delimiter)
    raise InvalidRequestError(f"the multipart body has no part named {field!r}")


async def multipart_file(request: Request, field: str) -> bytes:
    return form_part(await request.body(), request.headers.get("content-type", ""), field)


def file_response(document: DoctorDocument, data: bytes) -> Response:
    extension = _EXTENSIONS.get(document.content_type, "bin")
    return Response(
        content=data,
        media_type=document.content_type,
        headers={
            "Content-Disposition": f'attachment; filename="{document.document_id}.{extension}"',
            "X-Content-Type-Options": "nosniff",
            "Cache-Control": "private, no-store",
        },
    )
