"""What the payment services need from the outside: the provider (YooKassa, or the
sandbox) and storage. Adapters live in `storage/`."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Protocol

from payments.model import (
    Account,
    CreatePayment,
    Kopecks,
    Order,
    Payment,
    PriceList,
    ProviderPayment,
    ProviderRefund,
    ProviderStatus,
    Receipt,
    Refund,
    Transaction,
)

# ---------------------------------------------------------------------------- provider errors


class ProviderError(Exception):
    """The provider did not do what we asked."""


class ProviderUnavailableError(ProviderError):
    """Timeouts, connection errors or 5xx answers, after the adapter's own retries. The
    operation may or may not have happened: retry it with the same idempotence key."""


class ProviderRejectedError(ProviderError):
    """A 4xx answer: the request is wrong (or the object is in the wrong state). Not
    retried. `code` is the provider's (invalid_request, not_found, ...)."""

    def __init__(self, message: str, *, status: int, code: str, parameter: str | None = None):
        super().__init__(message)
        self.status = status
        self.code = code
        self.parameter = parameter


class ProviderNotFoundError(ProviderRejectedError):
    """404: no such payment or refund at the provider."""


class PaymentProvider(Protocol):
    """YooKassa's API v3, or anything that behaves like it. Every POST carries the
    caller's idempotence key: the same key returns the first answer, never a second
    payment, capture or refund."""

    name: str  # "yookassa", "sandbox"

    async def create_payment(
        self, request: CreatePayment, idempotence_key: str
    ) -> ProviderPayment: ...

    async def get_payment(self, provider_payment_id: str) -> ProviderPayment: ...

    async def capture_payment(
        self,
        provider_payment_id: str,
        amount_kopecks: Kopecks | None,  # None: the whole held amount
        receipt: Receipt | None,
        idempotence_key: str,
    ) -> ProviderPayment: ...

    async def cancel_payment(
        self, provider_payment_id: str, idempotence_key: str
    ) -> ProviderPayment: ...

    async def create_refund(
        self,
        provider_payment_id: str,
        amount_kopecks: Kopecks,
        receipt: Receipt | None,
        description: str,
        idempotence_key: str,
    ) -> ProviderRefund: ...

    async def get_refund(self, provider_refund_id: str) -> ProviderRefund: ...

    async def list_payments(
        self,
        created_gte_s: float,
        created_lt_s: float,
        cursor: str | None = None,
        limit: int = 100,
    ) -> tuple[list[ProviderPayment], str | None]:
        """Payments created in [gte, lt), newest first, a page at a time; the next
        page's cursor, or None after the last."""
        ...

    async def close(self) -> None: ...


# ---------------------------------------------------------------------------- storage


class StaleVersionError(Exception):
    """Someone else changed the order or payment since it was read: read it again."""


class PaymentStore(Protocol):
    # price lists ------------------------------------------------------------
    async def price_list(self, clinic_id: str | None) -> PriceList | None:
        """The clinic's list (None: the platform's default list), or None if never set."""
        ...

    async def save_price_list(self, price_list: PriceList) -> None: ...

    # orders -----------------------------------------------------------------
    async def add_order(self, order: Order) -> bool:
        """Store a new order; False (and nothing changed) if the booking has one."""
        ...

    async def order(self, booking_id: str) -> Order | None: ...

    # payments and refunds ---------------------------------------------------
    async def add_payment(self, payment: Payment) -> bool:
        """Store a new payment; False (and nothing changed) if its payment_id exists."""
        ...

    async def payment(self, payment_id: str) -> Payment | None: ...

    async def payment_by_provider_id(self, provider_payment_id: str) -> Payment | None: ...

    async def payments_for_booking(self, booking_id: str) -> list[Payment]:
        """Oldest first."""
        ...

    async def add_refund(self, refund: Refund) -> bool:
        """Store a new refund; False (and nothing changed) if its refund_id exists."""
        ...

    async def refund(self, refund_id: str) -> Refund | None: ...

    async def refunds_for_payment(self, payment_id: str) -> list[Refund]: ...

    async def record(
        self,
        *,
        order: Order | None = None,
        payment: Payment | None = None,
        refund: Refund | None = None,
        transactions: Sequence[Transaction] = (),
    ) -> list[str]:
        """In one database transaction: update the order, payment and refund given (each
        only if its stored `version` equals the object's, else StaleVersionError and
        nothing is written; the stored version becomes version + 1 and the objects
        passed in are updated to it), and append the ledger transactions whose txn_id is
        new (one already recorded is skipped). Returns the txn_ids appended."""
        ...

    async def list_payments(
        self,
        *,
        status: ProviderStatus | None = None,
        booking_id: str | None = None,
        clinic_id: str | None = None,
        before: tuple[float, str] | None = None,  # (created_s, payment_id) keyset cursor
        limit: int = 50,
    ) -> list[Payment]:
        """Newest first (created_s, then payment_id, descending)."""
        ...

    async def payments_created_between(
        self, since_s: float, until_s: float, *, after: str | None = None, limit: int = 1_000
    ) -> list[Payment]:
        """Payments with created_s in [since_s, until_s), by payment_id, after `after`
        (the reconciliation reads them in pages)."""
        ...

    async def unsettled_payments(self, older_than_s: float, limit: int = 100) -> list[Payment]:
        """Payments still pending or waiting_for_capture, created before older_than_s
        (the sweeper asks the provider about them, in case a notification was lost)."""
        ...

    # the ledger -------------------------------------------------------------
    def transactions(
        self,
        since_s: float,
        until_s: float,
        *,
        clinic_id: str | None = None,
        doctor_id: str | None = None,
        batch: int = 5_000,
    ) -> AsyncIterator[Sequence[Transaction]]:
        """Ledger transactions with at_s in [since_s, until_s), oldest first, in batches
        (keyset pages): the reports never load the ledger whole."""
        ...

    async def balances(self) -> dict[tuple[Account, str | None], Kopecks]:
        """Each (account, owner)'s sum of entries, computed in the database."""
        ...

    async def close(self) -> None: ...
