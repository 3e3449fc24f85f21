"""What admins run the service by: its live status, and the settings they change at run
time (offer TTL, give-up limits, emergency numbers and texts).

Settings are checked against their ranges (InvalidRequestError, a 422, naming every
field out of range), applied to the running engine at once (offers made after the change
use the new TTL; offers out already keep theirs), stored (they survive a restart: the
runtime applies them at start), and every change is audited with the old and new values
of what changed."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from accounts import AccountStore
from matching import DoctorRegistry, DoctorStatus
from services.audit import AuditTrail
from services.bookings import InvalidRequestError
from services.engine import Engine
from services.moderation import Where

# -- settings -------------------------------------------------------------------------------

OFFER_TTL_S = (5.0, 300.0)
GIVE_UP_AFTER_S = (30.0, 7_200.0)
MAX_OFFERS = (1, 100)
MAX_NUMBERS = 5
NUMBER_PATTERN = r"^\+?[0-9]{2,15}$"
MAX_LABEL = 100
MAX_TEXT = 500


@dataclass(frozen=True, slots=True)
class EmergencyNumber:
    label_ru: str
    label_en: str
    number: str


DEFAULT_NUMBERS = (
    EmergencyNumber("Скорая помощь", "Ambulance", "103"),
    EmergencyNumber("Единый номер экстренных служб", "Emergency services", "112"),
)
DEFAULT_TEXT_RU = (
    "Если угроза жизни — боль в груди, признаки инсульта, человек без сознания, сильное "
    "кровотечение — звоните 103 или 112 прямо сейчас."
)
DEFAULT_TEXT_EN = (
    "If a life is at risk — chest pain, signs of a stroke, someone unconscious, severe "
    "bleeding — call 103 or 112 now."
)


@dataclass(frozen=True, slots=True)
class RuntimeSettings:
    offer_ttl_s: float
    give_up_after_s: float  # the dispatch policy's max_search_s
    max_offers: int
    emergency_numbers: tuple[EmergencyNumber, ...] = DEFAULT_NUMBERS
    emergency_text_ru: str = DEFAULT_TEXT_RU
    emergency_text_en: str = DEFAULT_TEXT_EN

    def as_json(self) -> dict[str, Any]:
        values = dataclasses.asdict(self)
        values["emergency_numbers"] = [dataclasses.asdict(n) for n in self.emergency_numbers]
        return values


FIELDS = tuple(f.name for f in dataclasses.fields(RuntimeSettings))


def _number(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or value != value:
        raise ValueError(f"{name} must be a number")
    return float(value)


def _in(value: float, bounds: tuple[float, float], name: str) -> None:
    low, high = bounds
    if not low <= value <= high:
        raise ValueError(f"{name} must be from {low:g} to {high:g}")


def _text(value: Any, name: str, limit: int) -> str:
    if not isinstance(value, str):
        raise ValueError(f"{name} must be text")
    text = value.strip()
    if not text or len(text) > limit or "\x00" in text:
        raise ValueError(f"{name} must be 1 to {limit} characters")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError(f"{name} must be text (a lone surrogate is not)") from None
    return text


def _numbers(value: Any) -> tuple[EmergencyNumber, ...]:
    import re

    if not isinstance(value, list | tuple) or not 1 <= len(value) <= MAX_NUMBERS:
        raise ValueError(f"emergency_numbers must list 1 to {MAX_NUMBERS} numbers")
    out = []
    for i, item in enumerate(value):
        if isinstance(item, EmergencyNumber):
            item = dataclasses.asdict(item)
        if not isinstance(item, Mapping) or set(item) != {"label_ru", "label_en", "number"}:
            raise ValueError(f"emergency_numbers[{i}] needs label_ru, label_en and number")
        number = item["number"]
        if not isinstance(number, str) or not re.fullmatch(NUMBER_PATTERN, number):
            raise ValueError(f"emergency_numbers[{i}].number must be 2 to 15 digits, + first")
        out.append(
            EmergencyNumber(
                _text(item["label_ru"], f"emergency_numbers[{i}].label_ru", MAX_LABEL),
                _text(item["label_en"], f"emergency_numbers[{i}].label_en", MAX_LABEL),
                number,
            )
        )
    return tuple(out)


def apply_changes(current: RuntimeSettings, changes: Mapping[str, Any]) -> RuntimeSettings:
    """`current` with `changes` applied; InvalidRequestError naming every bad field."""
    problems: list[str] = []
    values: dict[str, Any] = {}
    unknown = sorted(set(changes) - set(FIELDS))
    if unknown:
        problems.append(f"unknown settings: {', '.join(unknown)}")
    checks: dict[str, Callable[[Any], Any]] = {
        "offer_ttl_s": lambda v: _bounded(v, OFFER_TTL_S, "offer_ttl_s"),
        "give_up_after_s": lambda v: _bounded(v, GIVE_UP_AFTER_S, "give_up_after_s"),
        "max_offers": _max_offers,
        "emergency_numbers": _numbers,
        "emergency_text_ru": lambda v: _text(v, "emergency_text_ru", MAX_TEXT),
        "emergency_text_en": lambda v: _text(v, "emergency_text_en", MAX_TEXT),
    }
    for name, value in changes.items():
        if name in checks:
            try:
                values[name] = checks[name](value)
            except ValueError as exc:
                problems.append(str(exc))
    if problems:
        raise InvalidRequestError("; ".join(problems))
    return dataclasses.replace(current, **values)


def _bounded(value: Any, bounds: tuple[float, float], name: str) -> float:
    number = _number(value, name)
    _in(number, bounds, name)
    return number


def _max_offers(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError("max_offers must be a whole number")
    _in(value, MAX_OFFERS, "max_offers")
    return value


# -- status ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Status:
    ready: bool
    checks: dict[str, str]
    storage: str
    bus: str
    open_bookings: dict[str, int]
    doctors: dict[str, int]
    dispatch_ms: dict[str, float | int | None]
    websocket_connections: int
    uptime_s: float


def percentile(sorted_values: list[float], q: float) -> float:
    """The nearest-rank percentile of sorted values (q in 0..1)."""
    rank = max(1, -(-int(q * 1_000_000) * len(sorted_values) // 1_000_000))
    return sorted_values[min(rank, len(sorted_values)) - 1]


class Operations:
    def __init__(
        self,
        accounts: AccountStore,
        engine: Engine,
        registry: DoctorRegistry,
        on_shift: Callable[[], Iterable[str]],
        audit: AuditTrail,
        clock: Callable[[], float],
        *,
        storage: str,
        bus: str,
        redis: Any = None,
    ) -> None:
        self.accounts = accounts
        self.engine = engine
        self.registry = registry
        self.on_shift = on_shift  # doctors on shift, connected or not
        self.audit = audit
        self.clock = clock
        self.storage = storage
        self.bus = bus
        self.redis = redis
        self.started = time.monotonic()
        # Open WebSockets of this process's gateway (whoever starts one sets it).
        self.websocket_connections: Callable[[], int] | None = None
        policy = engine.core.policy
        self.settings = RuntimeSettings(policy.offer_ttl_s, policy.max_search_s, policy.max_offers)
        self._lock = asyncio.Lock()

    # -- settings ------------------------------------------------------------------------
    async def load_settings(self) -> None:
        """Apply the stored settings (at start); values no longer valid are skipped."""
        stored = await self.accounts.settings()
        current = self.settings
        for name, text in sorted(stored.items()):
            try:
                current = apply_changes(current, {name: json.loads(text)})
            except (InvalidRequestError, ValueError):
                continue
        self._apply(current)

    def _apply(self, settings: RuntimeSettings) -> None:
        core = self.engine.core
        core.policy = dataclasses.replace(
            core.policy,
            offer_ttl_s=settings.offer_ttl_s,
            max_search_s=settings.give_up_after_s,
            max_offers=settings.max_offers,
        )
        self.settings = settings

    async def change_settings(self, at: Where, changes: Mapping[str, Any]) -> RuntimeSettings:
        async with self._lock:
            old = self.settings
            new = apply_changes(old, changes)
            before, after = old.as_json(), new.as_json()
            changed = {k: after[k] for k in FIELDS if before[k] != after[k]}
            if not changed:
                return old
            await self.accounts.save_settings(
                {k: json.dumps(v, ensure_ascii=False) for k, v in changed.items()}, self.clock()
            )
            self._apply(new)
            for name, value in changed.items():  # one record a setting: its values fit
                detail = json.dumps(
                    {"setting": name, "old": before[name], "new": value}, ensure_ascii=False
                )
                self.audit.record(
                    at.who.user_id, at.who.role, "settings.change", "settings", name,
                    request_id=at.request_id, ip=at.ip, detail=detail,
                )  # fmt: skip
            return new

    # -- status --------------------------------------------------------------------------
    async def status(self) -> Status:
        checks: dict[str, str] = {}
        try:
            async with asyncio.timeout(1.0):
                await self.accounts.user("-readiness-probe-")
            checks["storage"] = "ok"
        except TimeoutError:
            checks["storage"] = "error: no answer within 1 s"
        except Exception as exc:  # report, do not crash: this is a probe
            checks["storage"] = f"error: {type(exc).__name__}"
        checks["engine_writer"] = (
            "ok" if self.engine.storage_available else "error: writes wait for storage"
        )
        if self.redis is None:
            checks["redis"] = "not used"
        else:
            try:
                async with asyncio.timeout(1.0):
                    await self.redis.ping()
                checks["redis"] = "ok"
            except Exception as exc:  # report, do not crash
                checks["redis"] = f"error: {type(exc).__name__}"
        ready = all(v in ("ok", "not used") for v in checks.values())
        core = self.engine.core
        bookings = Counter(b.status.value for b in core.bookings.values() if not b.terminal)
        registry = self.registry
        doctors: Counter[str] = Counter()
        for doctor_id in list(self.on_shift()):
            if doctor_id in registry:
                status = registry.status(doctor_id)
                if status is not DoctorStatus.OFFLINE:
                    doctors[status.name.lower()] += 1
        times = sorted(self.engine.decision_times_s)
        dispatch: dict[str, float | int | None] = {
            "p50": round(percentile(times, 0.5) * 1_000, 3) if times else None,
            "p99": round(percentile(times, 0.99) * 1_000, 3) if times else None,
            "count": len(times),
        }
        sockets = self.websocket_connections() if self.websocket_connections else 0
        return Status(
            ready=ready, checks=checks, storage=self.storage, bus=self.bus,
            open_bookings=dict(sorted(bookings.items())), doctors=dict(sorted(doctors.items())),
            dispatch_ms=dispatch, websocket_connections=sockets,
            uptime_s=round(time.monotonic() - self.started, 3),
        )  # fmt: skip
