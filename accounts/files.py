"""Doctors' scans: what a file is (from its first bytes, never from what the client says)
and the port where the bytes are kept. Pure: no I/O here; storage.file_store adapts it."""

from __future__ import annotations

import hashlib
from typing import Protocol

PDF, JPEG, PNG = "application/pdf", "image/jpeg", "image/png"
DOCUMENT_TYPES = (PDF, JPEG, PNG)
MAX_DOCUMENT_BYTES = 10 * 1024 * 1024

_MAGIC = (
    (b"%PDF-", PDF),
    (b"\xff\xd8\xff", JPEG),
    (b"\x89PNG\r\n\x1a\n", PNG),
)


def sniff(data: bytes) -> str | None:
    """The content type of a PDF, JPEG or PNG file, by its magic bytes; None otherwise."""
    for magic, content_type in _MAGIC:
        if data.startswith(magic):
            return content_type
    return None


def file_key(data: bytes) -> str:
    """The key a file is kept under: its SHA-256 in hex (the same bytes are kept once)."""
    return hashlib.sha256(data).hexdigest()


class FileStore(Protocol):
    """Where uploaded files are kept, by key (a SHA-256 in hex)."""

    async def put(self, key: str, data: bytes) -> None:
        """Keep `data` under `key` (atomically: a reader never sees a partial file)."""
        ...

    async def get(self, key: str) -> bytes | None:
        """The bytes kept under `key`, or None."""
        ...
