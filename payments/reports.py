"""Finance reports from a stream of ledger transactions: a clinic's (revenue, commission,
refunds, fees, doctors' shares, net; per doctor, per service, by day and by month), the
platform's (per clinic), and a doctor's earnings (today, this week, this month, per
visit). Days and months are the clinic's local ones: the caller passes its time zone.

Builders take transactions in batches (PaymentStore.transactions yields them so), so
a report never needs the ledger whole. Amounts are int kopecks; the CSV rows carry
them as "123.45" (negative with '-': a period's net can be negative after refunds).

What the figures mean, for a clinic K:
- revenue: what was captured for K's bookings (gross);
- commission: the platform's commission, less what refunds gave back;
- refunds: what was given back to patients;
- fees: the provider's fees on those payments (informational: the platform bears them,
  they are not taken from the clinic);
- doctors: the doctors' shares, less what refunds took back;
- payable: revenue - commission - refunds (what the platform owes K, doctors' shares
  included) = -(K's CLINIC_REVENUE + REFUNDS balances) + doctors;
- net: payable - doctors (what K keeps).
For the platform, its own net is commission - fees.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import TypeVar
from zoneinfo import ZoneInfo

from payments.ledger import clinic_owner
from payments.model import Account, Kopecks, Transaction
from payments.money import kopecks_to_signed_rub_str


@dataclass(slots=True)
class Totals:
    revenue_kopecks: Kopecks = 0
    commission_kopecks: Kopecks = 0
    refunds_kopecks: Kopecks = 0
    fees_kopecks: Kopecks = 0
    doctors_kopecks: Kopecks = 0
    captures: int = 0  # captured payments (visits and fees)
    refund_count: int = 0

    @property
    def payable_kopecks(self) -> Kopecks:
        return self.revenue_kopecks - self.commission_kopecks - self.refunds_kopecks

    @property
    def net_kopecks(self) -> Kopecks:
        return self.payable_kopecks - self.doctors_kopecks

    @property
    def platform_net_kopecks(self) -> Kopecks:
        return self.commission_kopecks - self.fees_kopecks

    def add(self, txn: Transaction) -> None:
        for e in txn.entries:
            if e.account is Account.TRANSIT and e.amount_kopecks > 0:
                self.revenue_kopecks += e.amount_kopecks
            elif e.account is Account.PLATFORM_COMMISSION:
                self.commission_kopecks -= e.amount_kopecks
            elif e.account is Account.REFUNDS:
                self.refunds_kopecks += e.amount_kopecks
            elif e.account is Account.PROVIDER_FEES:
                self.fees_kopecks += e.amount_kopecks
            elif e.account is Account.DOCTOR_EARNINGS:
                self.doctors_kopecks -= e.amount_kopecks
        if txn.kind == "capture":
            self.captures += 1
        elif txn.kind == "refund":
            self.refund_count += 1


def local_date(at_s: float, tz: ZoneInfo) -> date:
    return datetime.fromtimestamp(at_s, tz).date()


def month_key(day: date) -> str:
    return f"{day.year:04d}-{day.month:02d}"


def _start_s(day: date, tz: ZoneInfo) -> float:
    return datetime(day.year, day.month, day.day, tzinfo=tz).timestamp()


def period_starts(now_s: float, tz: ZoneInfo) -> tuple[float, float, float]:
    """The starts (epoch seconds) of today, this week (Monday) and this month in `tz`:
    what a doctor's earnings are counted from. Read the ledger from the earliest."""
    today = local_date(now_s, tz)
    return (
        _start_s(today, tz),
        _start_s(today - timedelta(days=today.weekday()), tz),
        _start_s(today.replace(day=1), tz),
    )


_K = TypeVar("_K", str, date)


def _bump(groups: dict[_K, Totals], key: _K, txn: Transaction) -> None:
    totals = groups.get(key)
    if totals is None:
        totals = Totals()
        groups[key] = totals
    totals.add(txn)


@dataclass(slots=True)
class ClinicReport:
    clinic_id: str | None  # None: bookings no clinic took (the platform's own)
    tz: str
    totals: Totals = field(default_factory=Totals)
    by_doctor: dict[str, Totals] = field(default_factory=dict)  # "" : no doctor
    by_service: dict[str, Totals] = field(default_factory=dict)  # "" : unknown
    by_day: dict[date, Totals] = field(default_factory=dict)
    by_month: dict[str, Totals] = field(default_factory=dict)  # "YYYY-MM"


class ClinicReportBuilder:
    """Feed it the ledger's transactions (any order, in batches); those of other
    clinics are skipped."""

    def __init__(self, clinic_id: str | None, tz: ZoneInfo):
        self.tz = tz
        self.report = ClinicReport(clinic_id, tz.key)
        self._owner = clinic_owner(clinic_id)

    def add(self, transactions: Iterable[Transaction]) -> None:
        r = self.report
        for txn in transactions:
            if clinic_owner(txn.clinic_id) != self._owner:
                continue
            day = local_date(txn.at_s, self.tz)
            r.totals.add(txn)
            _bump(r.by_doctor, txn.doctor_id or "", txn)
            _bump(r.by_service, txn.service_code or "", txn)
            _bump(r.by_day, day, txn)
            _bump(r.by_month, month_key(day), txn)


def clinic_report(
    transactions: Iterable[Transaction], *, clinic_id: str | None, tz: ZoneInfo
) -> ClinicReport:
    builder = ClinicReportBuilder(clinic_id, tz)
    builder.add(transactions)
    return builder.report


@dataclass(slots=True)
class PlatformReport:
    tz: str
    totals: Totals = field(default_factory=Totals)
    by_clinic: dict[str, Totals] = field(default_factory=dict)  # "platform": no clinic
    by_day: dict[date, Totals] = field(default_factory=dict)
    by_month: dict[str, Totals] = field(default_factory=dict)


class PlatformReportBuilder:
    def __init__(self, tz: ZoneInfo):
        self.tz = tz
        self.report = PlatformReport(tz.key)

    def add(self, transactions: Iterable[Transaction]) -> None:
        r = self.report
        for txn in transactions:
            day = local_date(txn.at_s, self.tz)
            r.totals.add(txn)
            _bump(r.by_clinic, clinic_owner(txn.clinic_id), txn)
            _bump(r.by_day, day, txn)
            _bump(r.by_month, month_key(day), txn)


def platform_report(transactions: Iterable[Transaction], *, tz: ZoneInfo) -> PlatformReport:
    builder = PlatformReportBuilder(tz)
    builder.add(transactions)
    return builder.report


# ---------------------------------------------------------------------------- doctors


@dataclass(slots=True)
class VisitEarning:
    booking_id: str
    clinic_id: str | None
    service_code: str | None
    first_at_s: float  # the capture's time
    earned_kopecks: Kopecks = 0  # the doctor's share, less what refunds took back


@dataclass(slots=True)
class DoctorEarnings:
    doctor_id: str
    tz: str
    today_kopecks: Kopecks = 0
    week_kopecks: Kopecks = 0
    month_kopecks: Kopecks = 0
    visits: list[VisitEarning] = field(default_factory=list)  # newest first


def doctor_earnings(
    transactions: Iterable[Transaction], *, doctor_id: str, tz: ZoneInfo, now_s: float
) -> DoctorEarnings:
    """A doctor's earnings (their DOCTOR_EARNINGS credits, less refunds' reversals)
    today, this week (from Monday) and this month in `tz`, counted by when each
    movement happened, and per visit (every booking in the transactions given: pass
    those since the month's start for the app's screen; see period_starts)."""
    day_s, week_s, month_s = period_starts(now_s, tz)
    out = DoctorEarnings(doctor_id, tz.key)
    visits: dict[str, VisitEarning] = {}
    for txn in transactions:
        earned = -sum(
            e.amount_kopecks
            for e in txn.entries
            if e.account is Account.DOCTOR_EARNINGS and e.owner == doctor_id
        )
        if earned == 0 and txn.doctor_id != doctor_id:
            continue
        if txn.at_s >= day_s:
            out.today_kopecks += earned
        if txn.at_s >= week_s:
            out.week_kopecks += earned
        if txn.at_s >= month_s:
            out.month_kopecks += earned
        visit = visits.get(txn.booking_id)
        if visit is None:
            visit = VisitEarning(txn.booking_id, txn.clinic_id, txn.service_code, txn.at_s)
            visits[txn.booking_id] = visit
        visit.first_at_s = min(visit.first_at_s, txn.at_s)
        visit.earned_kopecks += earned
    out.visits = sorted(visits.values(), key=lambda v: (-v.first_at_s, v.booking_id))
    return out


# ---------------------------------------------------------------------------- CSV

_HEADERS = {
    "ru": [
        "Раздел", "Ключ", "Выручка", "Комиссия", "Возвраты", "Комиссии провайдера",
        "Врачам", "К выплате", "Чистыми", "Оплат", "Возвратов",
    ],
    "en": [
        "Group", "Key", "Revenue", "Commission", "Refunds", "Provider fees",
        "Doctors", "Payable", "Net", "Payments", "Refunds count",
    ],
}  # fmt: skip
_GROUPS = {
    "ru": {"total": "Итого", "day": "День", "month": "Месяц", "doctor": "Врач",
           "service": "Услуга", "clinic": "Клиника"},
    "en": {"total": "Total", "day": "Day", "month": "Month", "doctor": "Doctor",
           "service": "Service", "clinic": "Clinic"},
}  # fmt: skip
_EARNING_HEADERS = {
    "ru": ["Вызов", "Дата", "Услуга", "Заработано"],
    "en": ["Booking", "Date", "Service", "Earned"],
}


def _lang(lang: str) -> str:
    if lang not in _HEADERS:
        raise ValueError("lang: ru or en")
    return lang


def _row(group: str, key: str, t: Totals) -> list[str]:
    money = (
        t.revenue_kopecks, t.commission_kopecks, t.refunds_kopecks, t.fees_kopecks,
        t.doctors_kopecks, t.payable_kopecks, t.net_kopecks,
    )  # fmt: skip
    return [
        group,
        key,
        *(kopecks_to_signed_rub_str(k) for k in money),
        str(t.captures),
        str(t.refund_count),
    ]


def finance_rows(report: ClinicReport | PlatformReport, *, lang: str = "ru") -> list[list[str]]:
    """The report as a table of strings: a header, the total, then each group's rows
    (days and months in order, doctors, services and clinics by key)."""
    g = _GROUPS[_lang(lang)]
    rows = [list(_HEADERS[lang]), _row(g["total"], "", report.totals)]
    rows += [_row(g["month"], k, t) for k, t in sorted(report.by_month.items())]
    rows += [_row(g["day"], d.isoformat(), t) for d, t in sorted(report.by_day.items())]
    if isinstance(report, ClinicReport):
        rows += [_row(g["doctor"], k, t) for k, t in sorted(report.by_doctor.items())]
        rows += [_row(g["service"], k, t) for k, t in sorted(report.by_service.items())]
    else:
        rows += [_row(g["clinic"], k, t) for k, t in sorted(report.by_clinic.items())]
    return rows


def earnings_rows(earnings: DoctorEarnings, *, lang: str = "ru") -> list[list[str]]:
    """A doctor's visits as a table of strings (local dates in the report's zone)."""
    tz = ZoneInfo(earnings.tz)
    rows = [list(_EARNING_HEADERS[_lang(lang)])]
    rows += [
        [
            v.booking_id,
            local_date(v.first_at_s, tz).isoformat(),
            v.service_code or "",
            kopecks_to_signed_rub_str(v.earned_kopecks),
        ]
        for v in earnings.visits
    ]
    return rows


def _safe_cell(cell: str) -> str:
    """Spreadsheets run a cell that starts with = + @ (or - not followed by a digit)
    as a formula: quote it."""
    if cell[:1] in ("=", "+", "@", "\t", "\r") or (cell[:1] == "-" and not cell[1:2].isdigit()):
        return "'" + cell
    return cell


def to_csv(rows: Sequence[Sequence[str]]) -> str:
    """CSV text (RFC 4180, CRLF line ends) of string rows, with formula-like cells quoted."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    for row in rows:
        writer.writerow([_safe_cell(c) for c in row])
    return buffer.getvalue()
