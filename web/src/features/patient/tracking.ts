/**
 * Following one booking: its status timeline, the doctor approaching (positions, the road
 * line, an ETA that counts down between updates). `applyMessage` is the pure part (what a
 * gateway frame changes); `track` wires it to /ws/patient/<id>.
 */
import { Channel, type ChannelState, type GatewayMessage } from "../../lib/channel";
import { createStore, type Store } from "../../lib/store";
import { freshAccessToken } from "../auth/session";
import { getBooking } from "./api";
import { FINAL_STATUSES, WITH_DOCTOR, type Booking, type BookingStatus, type StatusEntry } from "./types";

export type NoticeKind = "assigned" | "released" | "arriving" | "message" | "notice";

export interface Notice {
  kind: NoticeKind;
  at: number;
  text?: string;
}

export interface Tracking {
  booking: Booking | null;
  timeline: StatusEntry[];
  doctor: { lat: number; lon: number; coarse: boolean; accuracy_m: number } | null;
  route: [number, number][] | null;
  /** When the doctor should be here (epoch ms), from the last ETA. */
  etaDeadline: number | null;
  distance_m: number | null;
  arriving: boolean;
  notices: Notice[];
  connection: ChannelState;
}

export const emptyTracking = (): Tracking => ({
  booking: null,
  timeline: [],
  doctor: null,
  route: null,
  etaDeadline: null,
  distance_m: null,
  arriving: false,
  notices: [],
  connection: "connecting",
});

function withoutDoctor(state: Tracking): Tracking {
  return { ...state, doctor: null, route: null, etaDeadline: null, distance_m: null };
}

/** What one frame changes, and whether the booking should be read again. */
export function applyMessage(state: Tracking, m: GatewayMessage, now: number): { state: Tracking; reload: boolean } {
  const b = state.booking;
  if (!b || (typeof m.booking_id === "string" && m.booking_id !== b.id)) return { state, reload: false };
  const notice = (kind: NoticeKind, text?: string): Notice[] => [{ kind, at: now, text }, ...state.notices].slice(0, 20);
  switch (m.type) {
    case "status": {
      const status = m.status as BookingStatus;
      const entry: StatusEntry = { status, at: String(m.at ?? new Date(now).toISOString()), reason: String(m.reason ?? "") };
      let next: Tracking = { ...state, booking: { ...b, status }, timeline: [...state.timeline, entry] };
      if (!WITH_DOCTOR.includes(status)) next = withoutDoctor(next);
      if (status === "arrived" || status === "in_progress") next = { ...next, etaDeadline: null };
      if (FINAL_STATUSES.includes(status)) next = { ...next, arriving: false };
      return { state: next, reload: WITH_DOCTOR.includes(status) || FINAL_STATUSES.includes(status) };
    }
    case "snapshot":
      return { state, reload: m.status !== b.status };
    case "resync":
      return { state, reload: true };
    case "doctor_assigned":
      return { state: { ...state, notices: notice("assigned") }, reload: true };
    case "doctor_released":
      return { state: { ...withoutDoctor(state), notices: notice("released") }, reload: true };
    case "arriving":
      return { state: { ...state, arriving: true, notices: notice("arriving") }, reload: false };
    case "notice":
      return { state: { ...state, notices: notice("notice", String(m.message ?? "")) }, reload: false };
    case "message":
      return { state: { ...state, notices: notice("message", String(m.content ?? "")) }, reload: false };
    case "position": {
      if (!WITH_DOCTOR.includes(b.status)) return { state, reload: false };
      const lat = Number(m.lat);
      const lon = Number(m.lon);
      if (!Number.isFinite(lat) || !Number.isFinite(lon)) return { state, reload: false };
      const eta = typeof m.eta_s === "number" ? m.eta_s : null;
      const here = b.status === "arrived" || b.status === "in_progress";
      return {
        state: {
          ...state,
          doctor: { lat, lon, coarse: Boolean(m.coarse), accuracy_m: Number(m.accuracy_m ?? 0) },
          etaDeadline: eta !== null && !here ? now + eta * 1000 : state.etaDeadline,
          distance_m: typeof m.distance_m === "number" ? m.distance_m : state.distance_m,
        },
        reload: false,
      };
    }
    case "route": {
      if (!WITH_DOCTOR.includes(b.status)) return { state, reload: false };
      const points = Array.isArray(m.points) ? (m.points as [number, number][]) : null;
      return { state: { ...state, route: points }, reload: false };
    }
    default:
      return { state, reload: false };
  }
}

/** Seconds left until the doctor is here, counting down from the last ETA. */
export function secondsLeft(state: Tracking, now: number): number | null {
  if (state.etaDeadline === null) return null;
  return Math.max(0, Math.round((state.etaDeadline - now) / 1000));
}

export interface TrackingHandle {
  store: Store<Tracking>;
  channel: Channel;
  reload(): Promise<void>;
  stop(): void;
}

export function track(bookingId: string, known: Booking | null = null): TrackingHandle {
  const store = createStore<Tracking>(emptyTracking());
  let stopped = false;
  const reload = async (): Promise<void> => {
    try {
      const booking = await getBooking(bookingId);
      if (stopped) return;
      store.set((s) => ({
        ...(WITH_DOCTOR.includes(booking.status) ? s : withoutDoctor(s)),
        booking,
        timeline: booking.history,
      }));
    } catch {
      /* the socket's next frame or the next reload tries again */
    }
  };
  if (known) store.set((s) => ({ ...s, booking: known, timeline: known.history }));
  const channel = new Channel(`/ws/patient/${encodeURIComponent(bookingId)}`, {
    token: freshAccessToken,
    onState: (connection) => store.set((s) => ({ ...s, connection })),
    onMessage: (m) => {
      const { state, reload: again } = applyMessage(store.get(), m, Date.now());
      store.set(state);
      if (again) void reload();
    },
  });
  void reload().then(() => channel.connect());
  return {
    store,
    channel,
    reload,
    stop() {
      stopped = true;
      channel.close();
    },
  };
}
