"""Errors the services raise about storage, for the edges to answer (503, 409)."""

from __future__ import annotations

from services.auth import ConflictError


class StorageUnavailableError(Exception):
    """Storage cannot be reached now: answer 503 with Retry-After; a retry will do."""

    def __init__(self, detail: str, retry_after_s: float = 2.0) -> None:
        super().__init__(detail)
        self.retry_after_s = retry_after_s


class ChangeNotStoredError(ConflictError):
    """Storage refused the change; it was undone, nothing of it stands (409)."""


class UnsupportedMediaError(Exception):
    """A file of a kind not accepted (415)."""


class TooLargeError(Exception):
    """A file over its size limit (413)."""
