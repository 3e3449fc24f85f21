"""The engine's side of the realtime channels: core events become topic events on the
bus, doctors' fixes become positions for the patient who waits for that doctor (with a
throttled road ETA and route line, coarsened until the doctor is close), and doctors'
messages become commands. The gateway (realtime_gateway/) only carries bytes."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from accounts import Role
from dispatch_core import BookingStatus
from dispatch_core.messages import (
    DoctorAssigned,
    DoctorReleased,
    EscalationRaised,
    Event,
    MarkDoctorOffline,
    MarkDoctorOnline,
    MessagePosted,
    OfferEnded,
    OfferSent,
    OperatorsAlerted,
    PatientNotified,
    StatusChanged,
)
from dispatch_core.model import WITH_DOCTOR
from matching import DoctorRegistry, DoctorStatus
from routing import Router, RoutingError
from routing.geo import haversine_scalar_m
from services.auth import ConflictError, ForbiddenError, NotFoundError, Principal
from services.bookings import BookingService, InvalidRequestError
from services.bus import Bus, Message
from services.doctors import DoctorService, FixRefusedError
from services.engine import Engine
from services.error_codes import error_code
from services.errors import StorageUnavailableError
from services.times import rfc3339

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class RealtimePolicy:
    eta_every_s: float = 5.0  # a watched doctor's road ETA is recomputed at most this often
    route_every_s: float = 30.0  # and the route line
    arriving_within_m: float = 150.0
    reveal_within_m: float = 1_000.0  # farther than this, the patient sees a coarse position
    coarse_grid_deg: float = 0.005  # about 500 m
    max_route_points: int = 200
    gateway_silence_s: float = 30.0  # an extra gateway unheard this long is presumed dead
    # A doctor on the way who has not reported for this long, or not moved more than
    # still_within_m for still_after_s, is flagged to operators (once, until it changes).
    en_route_silent_after_s: float = 180.0
    en_route_still_after_s: float = 300.0
    en_route_still_within_m: float = 30.0
    en_route_check_every_s: float = 15.0


@dataclass(slots=True)
class _Watch:
    eta_s: float | None = None
    eta_at_s: float = -math.inf
    route_at_s: float = -math.inf
    arriving_sent: bool = False
    target_node: int | None = None  # the patient's end, snapped once


def topic_of_booking(booking_id: str) -> str:
    return f"booking:{booking_id}"


def topic_of_doctor(doctor_id: str) -> str:
    return f"doctor:{doctor_id}"


OPS = "ops"
LOCAL = "local"  # this process's own gateway


class Realtime:
    def __init__(
        self,
        engine: Engine,
        bookings: BookingService,
        doctors: DoctorService,
        registry: DoctorRegistry,
        router: Router,
        bus: Bus,
        clock: Callable[[], float],
        policy: RealtimePolicy | None = None,
    ) -> None:
        self.engine = engine
        self.bookings = bookings
        self.doctors = doctors
        self.registry = registry
        self.router = router
        self.bus = bus
        self.clock = clock
        self.policy = policy or RealtimePolicy()
        self._outbox: asyncio.Queue[list[tuple[str, Message]]] = asyncio.Queue()
        self._publisher: asyncio.Task[None] | None = None
        self._watch: dict[str, _Watch] = {}  # booking id -> throttling state
        self.last_position: dict[str, Message] = {}  # booking id -> the newest position sent
        self.last_route: dict[str, Message] = {}  # booking id -> the newest route line sent
        # origin ("local", or an extra gateway's bus id) -> doctor id -> open sockets
        self._sockets: dict[str, dict[str, int]] = {LOCAL: {}}
        self._heard_s: dict[str, float] = {}  # extra gateway -> when it last spoke
        self._watchdog: asyncio.Task[None] | None = None
        self._stale_watch: asyncio.Task[None] | None = None
        # doctor -> (lat, lon, since when there) while on the way; and who was flagged
        self._still: dict[str, tuple[float, float, float]] = {}
        self._flagged: set[str] = set()
        self._remote_tasks: set[asyncio.Task[None]] = set()
        engine.listeners.append(self._on_engine_events)
        bus.on_command(self._on_remote_command)

    def start(self) -> None:
        self._publisher = asyncio.create_task(self._publish(), name="realtime-publisher")
        self._watchdog = asyncio.create_task(self._watch_gateways(), name="gateway-watchdog")
        self._stale_watch = asyncio.create_task(self._watch_en_route(), name="en-route-watch")

    async def stop(self) -> None:
        for task in (self._publisher, self._watchdog, self._stale_watch):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    # -- core events -> topics -----------------------------------------------------------

    def _on_engine_events(self, events: list[Event]) -> None:
        messages = [m for e in events for m in self._messages_of(e)]
        if messages:
            self._outbox.put_nowait(messages)

    async def _publish(self) -> None:
        # One task, so each topic's events keep their order.
        while True:
            batch = await self._outbox.get()
            for topic, message in batch:
                try:
                    await self.bus.append(topic, message)
                except Exception:
                    log.exception("could not publish %s on %s", message.get("type"), topic)

    def _messages_of(self, e: Event) -> list[tuple[str, Message]]:
        core = self.engine.core
        if isinstance(e, StatusChanged):
            body = {
                "type": "status", "booking_id": e.booking_id, "status": e.new_status.value,
                "old_status": e.old_status.value if e.old_status else None,
                "reason": e.reason, "at": rfc3339(e.at_s), "doctor_id": e.doctor_id,
            }  # fmt: skip
            out = [(topic_of_booking(e.booking_id), body), (OPS, body)]
            if e.doctor_id is not None:
                out.append((topic_of_doctor(e.doctor_id), body))
            if e.new_status not in WITH_DOCTOR:
                self._forget_watch(e.booking_id)
            return out
        if isinstance(e, OfferSent):
            booking = core.bookings.get(e.booking_id)
            eta = None
            decision = self.bookings.candidates.decisions.get(e.booking_id)
            if decision is not None:
                try:
                    eta = decision.record(e.doctor_id).eta_s
                except KeyError:
                    eta = None
            offer = {
                "type": "offer", "offer_id": e.offer_id, "booking_id": e.booking_id,
                "expires_at": rfc3339(e.expires_s),
                "ttl_s": round(max(0.0, e.expires_s - self.clock()), 3),
                "eta_s": eta if eta is not None and math.isfinite(eta) else None,
            }  # fmt: skip
            if booking is not None:
                offer.update(
                    call_type=booking.call_type, priority=booking.priority.value,
                    is_emergency=booking.is_emergency, address=booking.address,
                    lat=booking.latitude, lon=booking.longitude, symptoms=booking.symptoms,
                    patient_is_child=booking.patient_is_child, language=booking.language,
                    chosen=booking.requested_doctor_id == e.doctor_id,
                )  # fmt: skip
            return [(topic_of_doctor(e.doctor_id), offer)]
        if isinstance(e, OfferEnded):
            return [
                (
                    topic_of_doctor(e.doctor_id),
                    {"type": "offer_ended", "offer_id": e.offer_id, "booking_id": e.booking_id,
                     "outcome": e.outcome.value, "reason": e.reason, "at": rfc3339(e.at_s)},
                )
            ]  # fmt: skip
        if isinstance(e, DoctorAssigned):
            body = {
                "type": "doctor_assigned",
                "booking_id": e.booking_id,
                "doctor_id": e.doctor_id,
                "at": rfc3339(e.at_s),
            }
            return [(topic_of_booking(e.booking_id), body), (topic_of_doctor(e.doctor_id), body)]
        if isinstance(e, DoctorReleased):
            self._watch.pop(e.booking_id, None)
            self.last_position.pop(e.booking_id, None)
            body = {
                "type": "doctor_released",
                "booking_id": e.booking_id,
                "doctor_id": e.doctor_id,
                "reason": e.reason,
                "at": rfc3339(e.at_s),
            }
            return [(topic_of_booking(e.booking_id), body), (topic_of_doctor(e.doctor_id), body)]
        if isinstance(e, OperatorsAlerted):
            return [
                (
                    OPS,
                    {
                        "type": "alert",
                        "kind": e.kind,
                        "booking_id": e.booking_id,
                        "detail": e.detail,
                        "at": rfc3339(e.at_s),
                    },
                )
            ]
        if isinstance(e, EscalationRaised):
            return [
                (
                    OPS,
                    {
                        "type": "alert",
                        "kind": "emergency",
                        "booking_id": e.booking_id,
                        "detail": f"{e.call_type}: call {e.emergency_number}",
                        "at": rfc3339(e.at_s),
                    },
                )
            ]
        if isinstance(e, PatientNotified):
            return [
                (
                    topic_of_booking(e.booking_id),
                    {
                        "type": "notice",
                        "booking_id": e.booking_id,
                        "message": e.message,
                        "at": rfc3339(e.at_s),
                    },
                )
            ]
        if isinstance(e, MessagePosted):
            body = {
                "type": "message",
                "booking_id": e.booking_id,
                "sender_id": e.sender_id,
                "sender_role": e.sender_role.value,
                "content": e.content,
                "at": rfc3339(e.at_s),
            }
            out = [(topic_of_booking(e.booking_id), body)]
            booking = core.bookings.get(e.booking_id)
            if booking is not None and booking.doctor_id is not None:
                out.append((topic_of_doctor(booking.doctor_id), body))
            return out
        return []

    # -- doctors -----------------------------------------------------------------------

    def _connected(self, doctor_id: str) -> bool:
        return any(doctors.get(doctor_id, 0) > 0 for doctors in self._sockets.values())

    async def doctor_connected(self, doctor_id: str, origin: str = "local") -> None:
        doctors = self._sockets.setdefault(origin, {})
        doctors[doctor_id] = doctors.get(doctor_id, 0) + 1
        if (
            doctor_id in self.doctors.on_shift
            and doctor_id in self.registry
            and self.registry.status(doctor_id) is DoctorStatus.OFFLINE
        ):
            self.registry.set_status(doctor_id, self.doctors.shift_status(doctor_id))
            await self.engine.handle(MarkDoctorOnline(doctor_id), self.clock())

    async def doctor_disconnected(self, doctor_id: str, origin: str = "local") -> None:
        doctors = self._sockets.get(origin, {})
        left = doctors.get(doctor_id, 1) - 1
        if left > 0:
            doctors[doctor_id] = left
            return
        doctors.pop(doctor_id, None)
        await self._gone_unless_elsewhere(doctor_id)

    async def _gone_unless_elsewhere(self, doctor_id: str) -> None:
        if self._connected(doctor_id):
            return
        if (
            doctor_id in self.registry
            and self.registry.status(doctor_id) is not DoctorStatus.OFFLINE
        ):
            # Gone: no new offers; the core ends any open offer at once and frees an
            # assignment if the doctor stays away past its grace.
            self.registry.set_status(doctor_id, DoctorStatus.OFFLINE)
            await self.engine.handle(MarkDoctorOffline(doctor_id), self.clock())

    async def gateway_heartbeat(self, origin: str, doctors: list[str]) -> None:
        """An extra gateway's list of its doctors' sockets: what it lost (a missed
        presence message) goes offline, what it has counts as connected."""
        known = self._sockets.setdefault(origin, {})
        listed = set(doctors)
        for doctor_id in [d for d in known if d not in listed]:
            del known[doctor_id]
            await self._gone_unless_elsewhere(doctor_id)
        for doctor_id in listed - set(known):
            await self.doctor_connected(doctor_id, origin)

    async def expire_gateways(self) -> None:
        """Extra gateways silent past gateway_silence_s are presumed dead (a SIGKILL sends
        no goodbye): their doctors go offline unless connected elsewhere."""
        limit = self.clock() - self.policy.gateway_silence_s
        for origin in [o for o, heard in self._heard_s.items() if heard < limit]:
            del self._heard_s[origin]
            for doctor_id in list(self._sockets.pop(origin, {})):
                await self._gone_unless_elsewhere(doctor_id)

    async def _watch_gateways(self) -> None:
        while True:
            await asyncio.sleep(max(0.2, self.policy.gateway_silence_s / 3))
            try:
                await self.expire_gateways()
            except Exception:
                log.exception("gateway watchdog failed")

    async def doctor_message(self, who: Principal, message: Message) -> Message | None:
        """Apply one message from a doctor's socket; the reply, if any."""
        kind = message["type"]
        if kind == "position":
            await self.report_fix(
                who,
                message["lat"],
                message["lon"],
                message.get("accuracy_m", 10.0),
                message.get("recorded_at"),
            )
            return None
        if kind == "shift":
            if message["action"] == "start":
                state = await self.doctors.start_shift(
                    who, message["lat"], message["lon"], message.get("accuracy_m", 10.0)
                )
            else:
                state = await self.doctors.end_shift(who)
            return {"type": "shift", "status": state.status.name.lower()}
        if kind == "availability":
            state = await self.doctors.set_availability(who, bool(message["available"]))
            return {"type": "availability", "status": state.status.name.lower()}
        if kind == "accept":
            booking = await self.bookings.accept(who, message["offer_id"])
            return {
                "type": "accepted",
                "offer_id": message["offer_id"],
                "booking_id": booking.booking_id,
            }
        if kind == "decline":
            await self.bookings.decline(who, message["offer_id"], message.get("reason", ""))
            return {"type": "declined", "offer_id": message["offer_id"]}
        if kind == "progress":
            booking = await self.bookings.progress(
                who,
                message["booking_id"],
                BookingStatus(message["status"]),
                extras=message.get("extras", ()),
            )
            return {
                "type": "progressed",
                "booking_id": booking.booking_id,
                "status": booking.status.value,
            }
        raise InvalidRequestError(f"unknown message type {kind!r}")

    async def report_fix(
        self, who: Principal, lat: float, lon: float, accuracy_m: float, recorded_s: float | None
    ) -> None:
        state = await self.doctors.report_position(who, lat, lon, accuracy_m, recorded_s)
        if state.lat is None or state.lon is None:
            return
        booking_id = self.engine.core.doctor_booking.get(who.user_id)
        if booking_id is None:
            return
        booking = self.engine.core.bookings.get(booking_id)
        if booking is None or booking.status not in WITH_DOCTOR:
            return
        await self._send_position(
            booking_id,
            who.user_id,
            state.lat,
            state.lon,
            accuracy_m,
            booking.latitude,
            booking.longitude,
            recorded_s,
        )

    async def _send_position(
        self, booking_id: str, doctor_id: str, lat: float, lon: float, accuracy_m: float,
        to_lat: float, to_lon: float, recorded_s: float | None = None,
    ) -> None:  # fmt: skip
        p = self.policy
        now = self.clock()
        watch = self._watch.setdefault(booking_id, _Watch())
        distance_m = haversine_scalar_m(lat, lon, to_lat, to_lon)
        message: Message = {
            "type": "position",
            "booking_id": booking_id,
            "doctor_id": doctor_id,
            "at": rfc3339(now),
            "recorded_at": rfc3339(now if recorded_s is None else recorded_s),
        }
        if now - watch.eta_at_s >= p.eta_every_s or distance_m <= p.arriving_within_m:
            watch.eta_at_s = now
            try:
                src = self.router.snap(lat, lon).node
                if watch.target_node is None:
                    watch.target_node = self.router.snap(to_lat, to_lon).node
                watch.eta_s = self.router.travel_time_s(src, watch.target_node)
            except RoutingError:
                watch.eta_s = None
        route: Message | None = None
        if now - watch.route_at_s >= p.route_every_s:
            watch.route_at_s = now
            try:
                path = self.router.route((lat, lon), (to_lat, to_lon)).path
                step = max(1, math.ceil(len(path) / p.max_route_points))
                points = path[::step] + ([path[-1]] if (len(path) - 1) % step else [])
                if distance_m > p.reveal_within_m:
                    # The whole line would give the doctor away: only its last stretch.
                    points = [
                        pt for pt in points
                        if haversine_scalar_m(pt.lat, pt.lon, to_lat, to_lon) <= p.reveal_within_m
                    ]  # fmt: skip
                route = {
                    "type": "route", "booking_id": booking_id, "doctor_id": doctor_id, "at": rfc3339(now),
                    "points": [[round(pt.lat, 6), round(pt.lon, 6)] for pt in points],
                }  # fmt: skip
            except RoutingError:
                pass
        if distance_m > p.reveal_within_m:
            g = p.coarse_grid_deg
            message.update(
                lat=round(round(lat / g) * g, 6),
                lon=round(round(lon / g) * g, 6),
                coarse=True,
                accuracy_m=max(accuracy_m, 500.0),
            )
            message["distance_m"] = round(distance_m, -2)
        else:
            message.update(
                lat=lat,
                lon=lon,
                coarse=False,
                accuracy_m=accuracy_m,
                distance_m=round(distance_m, 1),
            )
        message["eta_s"] = None if watch.eta_s is None else round(watch.eta_s, 1)
        if route is not None:
            route["eta_s"] = message["eta_s"]
            self.last_route[booking_id] = route
            await self.bus.publish_position(booking_id, route)
        self.last_position[booking_id] = message
        await self.bus.publish_position(booking_id, message)
        if distance_m <= p.arriving_within_m and not watch.arriving_sent:
            watch.arriving_sent = True
            await self.bus.append(
                topic_of_booking(booking_id),
                {
                    "type": "arriving",
                    "booking_id": booking_id,
                    "doctor_id": doctor_id,
                    "distance_m": round(distance_m, 1),
                    "at": rfc3339(now),
                },
            )

    def doctor_snapshot(self, doctor_id: str) -> Message:
        """What a doctor's app needs on (re)connecting: the waiting offer, the current visit."""
        core = self.engine.core
        offer_message = None
        offer_id = core.doctor_offer.get(doctor_id)
        offer = core.offers.get(offer_id) if offer_id else None
        if offer is not None and offer.open:
            sent = OfferSent(offer.offer_id, offer.booking_id, doctor_id, offer.expires_s)
            offer_message = self._messages_of(sent)[0][1]
        booking_id = core.doctor_booking.get(doctor_id)
        booking = core.bookings.get(booking_id) if booking_id else None
        return {
            "type": "snapshot", "doctor_id": doctor_id, "offer": offer_message,
            "shift": self.doctors.on_shift.get(doctor_id),  # available, on_break or null
            "booking_id": booking_id, "status": booking.status.value if booking else None,
            "lat": booking.latitude if booking else None, "lon": booking.longitude if booking else None,
            "address": booking.address if booking else None,
        }  # fmt: skip

    # -- doctors on the way who went quiet ----------------------------------------------

    async def _watch_en_route(self) -> None:
        while True:
            await asyncio.sleep(self.policy.en_route_check_every_s)
            try:
                for message in self.stale_en_route(self.clock()):
                    await self.bus.append(OPS, message)
            except Exception:
                log.exception("en-route watch failed")

    def stale_en_route(self, now_s: float) -> list[Message]:
        """Alerts for doctors on the way to a visit who have not reported for too long,
        or not moved: once per episode (a fix that moves them ends it)."""
        p = self.policy
        core = self.engine.core
        alerts: list[Message] = []
        on_the_way: set[str] = set()
        for doctor_id, booking_id in core.doctor_booking.items():
            booking = core.bookings.get(booking_id)
            if booking is None or booking.status not in (
                BookingStatus.ASSIGNED,
                BookingStatus.EN_ROUTE,
            ):
                continue
            on_the_way.add(doctor_id)
            position = self.registry.position(doctor_id) if doctor_id in self.registry else None
            why = None
            if position is None or now_s - position[3] >= p.en_route_silent_after_s:
                silent_s = None if position is None else now_s - position[3]
                why = (
                    "has not reported a position"
                    if silent_s is None
                    else f"has not reported for {silent_s / 60:.0f} min"
                )
            else:
                lat, lon = position[0], position[1]
                where = self._still.get(doctor_id)
                if where is None or haversine_scalar_m(lat, lon, where[0], where[1]) > (
                    p.en_route_still_within_m
                ):
                    self._still[doctor_id] = (lat, lon, now_s)
                    self._flagged.discard(doctor_id)  # moving again: a new episode
                elif now_s - where[2] >= p.en_route_still_after_s:
                    why = f"has not moved for {(now_s - where[2]) / 60:.0f} min"
            if why is not None and doctor_id not in self._flagged:
                self._flagged.add(doctor_id)
                alerts.append(
                    {
                        "type": "alert",
                        "kind": "stale_en_route",
                        "booking_id": booking_id,
                        "detail": f"doctor {doctor_id} on the way {why}",
                        "at": rfc3339(now_s),
                    }
                )
            elif why is None:
                self._flagged.discard(doctor_id)  # reporting and moving: any episode ended
        for doctor_id in set(self._still) - on_the_way:
            del self._still[doctor_id]
        self._flagged &= on_the_way
        return alerts

    # -- watchers ------------------------------------------------------------------------

    async def authorize_watch(self, who: Principal, booking_id: str) -> dict[str, Any]:
        """The booking's current state for its own patient (or staff); NotFoundError else."""
        if who.role is Role.DOCTOR:
            raise NotFoundError(f"no booking {booking_id!r}")
        booking = await self.bookings.get(who, booking_id)
        snapshot: dict[str, Any] = {
            "type": "snapshot", "booking_id": booking.booking_id, "status": booking.status.value,
            "doctor_id": booking.doctor_id if booking.status in WITH_DOCTOR else None,
        }  # fmt: skip
        return snapshot

    def _forget_watch(self, booking_id: str) -> None:
        self._watch.pop(booking_id, None)
        self.last_position.pop(booking_id, None)
        self.last_route.pop(booking_id, None)

    def latest_position(self, booking_id: str) -> tuple[Message | None, Message | None]:
        """(route, position) last sent for the booking's current doctor."""
        booking = self.engine.core.bookings.get(booking_id)
        if booking is None or booking.status not in WITH_DOCTOR:
            return None, None
        return self.last_route.get(booking_id), self.last_position.get(booking_id)

    # -- messages from gateways without the engine -------------------------------------

    def _on_remote_command(self, message: Message) -> None:
        # Keep a reference: the loop holds tasks weakly, and a dropped one may vanish.
        task = asyncio.get_running_loop().create_task(self._remote(message))
        self._remote_tasks.add(task)
        task.add_done_callback(self._remote_tasks.discard)

    async def _remote(self, message: Message) -> None:
        doctor_id = str(message.get("doctor_id", ""))
        who = Principal(doctor_id, Role.DOCTOR)
        kind = message.get("type")
        try:
            origin = str(message.get("o", "remote"))
            self._heard_s[origin] = self.clock()
            if kind == "presence":
                if message.get("online"):
                    await self.doctor_connected(doctor_id, origin)
                    # That gateway has no engine to ask: the state goes on the doctor's
                    # topic (offer, visit, shift), so every connect starts from it.
                    snapshot = self.doctor_snapshot(doctor_id)
                    snapshot["for"] = str(message.get("conn", ""))  # that socket only
                    await self.bus.append(topic_of_doctor(doctor_id), snapshot)
                else:
                    await self.doctor_disconnected(doctor_id, origin)
                return
            if kind == "heartbeat":
                doctors = message.get("doctors")
                if isinstance(doctors, list):
                    await self.gateway_heartbeat(origin, [str(d) for d in doctors])
                return
            reply = await self.doctor_message(who, message)
        except (
            NotFoundError,
            ForbiddenError,
            ConflictError,
            InvalidRequestError,
            FixRefusedError,
            StorageUnavailableError,
        ) as exc:
            if kind == "position":
                return  # a refused fix from afar: nobody waits for the answer
            reply = {"type": "error", "code": error_code(exc), "detail": str(exc)}
        except Exception:
            log.exception("remote doctor message failed")
            return
        if reply is not None:
            if message.get("ref") is not None:
                reply["ref"] = message["ref"]
            await self.bus.append(topic_of_doctor(doctor_id), reply)
