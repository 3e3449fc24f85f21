"""Payments benchmark: our side's cost against the local YooKassa server (a separate
process speaking YooKassa's API v3, tests/fake_yookassa.py), in the same run as the
provider's bare round trip.

    .venv/bin/python -m benchmarks.payments [--quick] [--payments N] [--latency-ms MS]

1. Overhead per payment (`overhead_p99_ms`): creating a card payment when a doctor
   accepts, through services.payments (the order read, the receipt, our payment stored,
   POST /payments, the answer reconciled and recorded), minus the time spent inside the
   provider's calls (the adapter is wrapped by a timing proxy). Target: p99 <= 5 ms.
   Also its whole life (`lifecycle_overhead_*`): that hold, the notification that it is
   held (GET /payments/{id}, reconcile, record) and the capture at completion (a GET,
   POST .../capture, reconcile with the ledger's transactions, record).
2. Notifications per second with 30 % duplicates, shuffled: each is parsed, its payment
   fetched from the provider (always: a notification is only a hint) and reconciled.
   Target: >= 500/s. The bare baseline is the provider's GET round trip, which every
   notification needs once.

The store is the embedded SQLite (the default set-up) in a scratch file, or PostGIS with
--database-url (a scratch database is the caller's). The last line is one JSON object.
"""

from __future__ import annotations

import sys

if __name__ == "__main__" and not __package__:
    import runpy
    from pathlib import Path

    sys.path[0] = str(Path(__file__).resolve().parent.parent)
    runpy.run_module("benchmarks.payments", run_name="__main__", alter_sys=True)
    raise SystemExit(0)

import argparse
import asyncio
import json
import random
import socket
import statistics
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np

from benchmarks._common import PROJECT_ROOT
from dispatch_core import Booking, BookingStatus
from dispatch_core.model import StatusUpdate
from payments.model import Method, Order, Quote
from payments.pricing import default_price_list, quote
from services.audit import AuditTrail
from services.payments import PaymentsConfig, PaymentService
from storage.yookassa import YooKassaProvider

SHOP_ID = "506751"
SECRET = "test_benchmark_secret_key"


class TimedProvider:
    """The adapter, with the time spent inside its calls added up (the provider's share)."""

    def __init__(self, inner: YooKassaProvider) -> None:
        self.inner = inner
        self.name = inner.name
        self.spent_s = 0.0

    def __getattr__(self, name: str) -> Any:
        method = getattr(self.inner, name)
        if not callable(method) or name.startswith("_") or name == "close":
            return method

        async def timed(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return await method(*args, **kwargs)
            finally:
                self.spent_s += time.perf_counter() - started

        return timed

    async def close(self) -> None:
        await self.inner.close()


class NoAccounts:
    async def user(self, user_id: str) -> None:
        return None


class NoClinics:
    async def clinic(self, clinic_id: str) -> None:
        return None


class NoAuditStore:
    async def add_audit_records(self, records: Any) -> None:
        return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_fake(port: int, latency_ms: float) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.fake_yookassa", "--port", str(port),
         "--shop-id", SHOP_ID, "--secret-key", SECRET, "--latency-ms", str(latency_ms)],
        cwd=PROJECT_ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return proc
        except OSError:
            time.sleep(0.05)
    proc.kill()
    raise SystemExit("the local YooKassa server did not start")


async def open_store(database_url: str | None, folder: Path) -> Any:
    if database_url:
        from storage.postgis_payments import PostgisPaymentStore

        return await PostgisPaymentStore.connect(database_url)
    from storage.sqlite_payments import SqlitePaymentStore

    return SqlitePaymentStore(folder / "payments.sqlite3")


def booking(booking_id: str, status: BookingStatus, t: float) -> Booking:
    b = Booking(booking_id, "patient-1", 41.15, -8.61, "home_visit", t, status=status)
    b.doctor_id = "doctor-1"
    b.history.append(StatusUpdate(BookingStatus.OFFERED, BookingStatus.ASSIGNED, "doctor:doctor-1", "accepted", t, "doctor-1"))  # fmt: skip
    return b


async def run(args: argparse.Namespace) -> dict[str, Any]:
    from tests.fake_yookassa import measure_round_trips

    port = free_port()
    fake = start_fake(port, args.latency_ms)
    base = f"http://127.0.0.1:{port}/v3"
    folder = Path(tempfile.mkdtemp(prefix="tot-payments-bench-"))
    control = httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10.0)
    try:
        store = await open_store(args.database_url, folder)
        provider = TimedProvider(YooKassaProvider(SHOP_ID, SECRET, base_url=base))
        service = PaymentService(
            store, provider, None, None, NoAccounts(), NoClinics(),  # type: ignore[arg-type]
            AuditTrail(NoAuditStore(), time.time), time.time,  # type: ignore[arg-type]
            PaymentsConfig(return_url_base="https://tot.example"),
        )  # fmt: skip
        price_list = default_price_list()
        q: Quote = quote(price_list, call_type="home_visit", specialty=None, priority="normal",
                         local_hour=12, distance_m=None)  # fmt: skip

        # The bare round trips first (and a warm-up of the server and the connection).
        rt_create = await measure_round_trips(base, SHOP_ID, SECRET, args.round_trips)
        rt_get = await measure_round_trips(base, SHOP_ID, SECRET, args.round_trips, operation="get")

        create_ms: list[float] = []  # our overhead on creating the payment (the hold)
        overheads_ms: list[float] = []  # ... on its whole life: hold, notification, capture
        totals_ms: list[float] = []
        ids: list[str] = []
        run_id = f"{int(time.time())}{random.randrange(10**6)}"

        async def timed(step: Any) -> tuple[float, float]:
            """(wall ms, of which ours ms) of one service step."""
            provider.spent_s = 0.0
            started = time.perf_counter()
            await step
            wall_s = time.perf_counter() - started
            return wall_s * 1_000, (wall_s - provider.spent_s) * 1_000

        for i in range(args.payments + 20):
            bid = f"bench{run_id}-{i}"
            now = time.time()
            order = Order(bid, "patient-1", None, Method.CARD, q, doctor_id="doctor-1",
                          customer_email="patient@tot.example", created_s=now)  # fmt: skip
            await store.add_order(order)  # at booking: not part of a payment
            hold_wall, hold_ours = await timed(
                service._on_assigned(order, booking(bid, BookingStatus.ASSIGNED, now))
            )
            (payment,) = await store.payments_for_booking(bid)
            assert payment.provider_payment_id is not None
            r = await control.post("/_control/confirm", json={"id": payment.provider_payment_id})
            r.raise_for_status()  # the payer confirms: not ours
            note_wall, note_ours = await timed(service.handle_notification({
                "type": "notification", "event": "payment.waiting_for_capture",
                "object": {"id": payment.provider_payment_id, "status": "waiting_for_capture"},
            }))  # fmt: skip
            order = await store.order(bid)
            assert order is not None
            capture_wall, capture_ours = await timed(
                service._on_completed(order, booking(bid, BookingStatus.COMPLETED, now))
            )
            (payment,) = await store.payments_for_booking(bid)
            assert payment.captured_kopecks == q.total_kopecks, payment
            if i >= 20:  # warm-up
                create_ms.append(hold_ours)
                overheads_ms.append(hold_ours + note_ours + capture_ours)
                totals_ms.append(hold_wall + note_wall + capture_wall)
                ids.append(payment.provider_payment_id or "")

        # Notifications: one per payment, 30 % more as duplicates, shuffled.
        bodies = [
            {"type": "notification", "event": "payment.succeeded",
             "object": {"id": pid, "status": "succeeded"}}
            for pid in ids
        ]  # fmt: skip
        bodies += random.sample(bodies, k=int(len(bodies) * 0.3))
        random.shuffle(bodies)
        encoded = [json.dumps(b).encode() for b in bodies]
        # As the server takes them: several at once (YooKassa does not wait for one
        # answer before sending the next), at most `concurrency` in flight.
        gate = asyncio.Semaphore(args.concurrency)

        async def handle(body: bytes) -> None:
            async with gate:
                await service.handle_notification(body)

        started = time.perf_counter()
        await asyncio.gather(*(handle(body) for body in encoded))
        notes_s = time.perf_counter() - started
        balances = await store.balances()
        assert sum(balances.values()) == 0
        await provider.close()
        await store.close()
    finally:
        await control.aclose()
        fake.terminate()
        fake.wait(timeout=10)

    create = np.array(create_ms)
    overhead = np.array(overheads_ms)
    total = np.array(totals_ms)
    webhooks_per_s = len(encoded) / notes_s
    bare_get_per_s = 1_000 / statistics.mean(rt_get)
    result = {
        "payments": len(overheads_ms),
        "store": "postgis" if args.database_url else "sqlite",
        "provider_latency_ms": args.latency_ms,
        "overhead_p50_ms": round(float(np.percentile(create, 50)), 3),
        "overhead_p99_ms": round(float(np.percentile(create, 99)), 3),
        "lifecycle_overhead_p50_ms": round(float(np.percentile(overhead, 50)), 3),
        "lifecycle_overhead_p99_ms": round(float(np.percentile(overhead, 99)), 3),
        "lifecycle_p50_ms": round(float(np.percentile(total, 50)), 3),
        "provider_round_trip_p50_ms": round(statistics.median(rt_create), 3),
        "provider_get_round_trip_p50_ms": round(statistics.median(rt_get), 3),
        "notifications": len(encoded),
        "duplicates_share": 0.3,
        "notification_concurrency": args.concurrency,
        "webhooks_per_s": round(webhooks_per_s, 1),
        "bare_get_per_s": round(bare_get_per_s, 1),
        "webhooks_vs_bare_get": round(webhooks_per_s / bare_get_per_s, 3),
    }
    print(f"{'':<44} {'p50':>10} {'p99':>10}")
    line = "{:<46} {:>10} {:>10}"
    print(line.format("our overhead creating a payment, ms", result["overhead_p50_ms"],
                      result["overhead_p99_ms"]))  # fmt: skip
    print(line.format("... its whole life (hold, notice, capture), ms",
                      result["lifecycle_overhead_p50_ms"], result["lifecycle_overhead_p99_ms"]))  # fmt: skip
    print(f"{'whole life incl. provider, ms':<44} {result['lifecycle_p50_ms']:>10}")
    print(
        f"{'bare provider round trip (create), ms':<44} {result['provider_round_trip_p50_ms']:>10}"
    )
    print(f"notifications/s with 30 % duplicates: {result['webhooks_per_s']} "
          f"(bare GET ceiling {result['bare_get_per_s']}/s)")  # fmt: skip
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer payments (CI)")
    parser.add_argument("--payments", type=int, default=500)
    parser.add_argument("--round-trips", type=int, default=300)
    parser.add_argument("--latency-ms", type=float, default=0.0, help="the provider's own latency")
    parser.add_argument(
        "--database-url",
        default=None,
        help="a scratch, migrated PostGIS database (default: SQLite)",
    )
    parser.add_argument("--concurrency", type=int, default=8, help="notifications in flight")
    args = parser.parse_args(argv)
    if args.quick:
        args.payments, args.round_trips = 100, 100
    result = asyncio.run(run(args))
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
