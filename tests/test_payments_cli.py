"""`tot payments reconcile --date D` against the local YooKassa server: a payment the
provider does not know, and one it knows differently, are reported (exit 1); a day that
agrees exits 0."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

from payments.model import CreatePayment, Method, Payment, ProviderStatus, Purpose
from storage.sqlite_payments import SqlitePaymentStore
from storage.yookassa import YooKassaProvider
from tests.fake_yookassa import running_fake_yookassa

ROOT = Path(__file__).resolve().parent.parent


def _reconcile(
    path: Path, url: str, shop: str, key: str, day: str
) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "TOT_SQLITE_PATH": str(path),
        "TOT_PAYMENTS_PROVIDER": "yookassa",
        "TOT_YOOKASSA_SHOP_ID": shop,
        "TOT_YOOKASSA_SECRET_KEY": key,
        "TOT_YOOKASSA_URL": url,
        "PYTHONPATH": str(ROOT),
    }
    env.pop("DATABASE_URL", None)
    return subprocess.run(
        [sys.executable, "-m", "tot", "payments", "reconcile", "--date", day, "--json"],
        env=env, capture_output=True, text=True, timeout=120, cwd=ROOT,
    )  # fmt: skip


def test_reconcile_reports_what_differs_from_the_provider(tmp_path: Path) -> None:
    path = tmp_path / "tot.sqlite3"
    with running_fake_yookassa() as fake:
        provider = YooKassaProvider(fake.shop_id, fake.secret_key, base_url=fake.base_url)

        async def prepare() -> tuple[str, float]:
            store = SqlitePaymentStore(path)
            seen = await provider.create_payment(
                CreatePayment(
                    amount_kopecks=1_000_00, capture=True, method=Method.CARD,
                    confirmation="redirect", return_url="https://tot.test/back",
                    description="TOT: визит", booking_id="b1", payment_id="pay-b1-visit-1",
                    receipt=None,
                ),
                "create:pay-b1-visit-1",
            )  # fmt: skip
            at = seen.created_s
            # ours: the same payment, but we think it is still pending at a wrong amount
            await store.add_payment(
                Payment("pay-b1-visit-1", "b1", Purpose.VISIT, Method.CARD, 900_00,
                        ProviderStatus.PENDING, seen.provider_payment_id, created_s=at)
            )  # fmt: skip
            # ours only: the provider never heard of it
            await store.add_payment(
                Payment("pay-b2-visit-1", "b2", Purpose.VISIT, Method.SBP, 500_00,
                        ProviderStatus.SUCCEEDED, "2f000000-0000-5000-9000-00000000abcd",
                        captured_kopecks=500_00, created_s=at)
            )  # fmt: skip
            await store.close()
            await provider.close()
            return seen.provider_payment_id, at

        provider_id, at = asyncio.run(prepare())
        day = datetime.fromtimestamp(at, UTC).date().isoformat()
        done = _reconcile(path, fake.base_url, fake.shop_id, fake.secret_key, day)
        assert done.returncode == 1, done.stderr
        report = json.loads(done.stdout)
        kinds = {(m["kind"], m["payment_id"]) for m in report["mismatches"]}
        assert ("missing_at_provider", "pay-b2-visit-1") in kinds
        assert ("amount", "pay-b1-visit-1") in kinds or ("status", "pay-b1-visit-1") in kinds
        assert report["ours"] == 2 and report["theirs"] == 1
        assert fake.secret_key not in done.stdout + done.stderr
        # another day: nothing on either side, nothing to report
        quiet = _reconcile(path, fake.base_url, fake.shop_id, fake.secret_key, "2020-01-01")
        assert quiet.returncode == 0 and json.loads(quiet.stdout)["mismatches"] == []
        assert provider_id
