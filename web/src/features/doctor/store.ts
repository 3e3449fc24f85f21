/**
 * The doctor's live state over /ws/doctor: the shift, the device's position (the browser's
 * geolocation, streamed while on shift), the offer waiting and the visit in hand.
 * `applyDoctorMessage` is the pure part (tested); `startDoctor` wires it up.
 */
import { Channel, type ChannelState, type GatewayMessage } from "../../lib/channel";
import { api } from "../../lib/http";
import { createStore } from "../../lib/store";
import { freshAccessToken } from "../auth/session";
import type { Booking } from "../patient/types";

export type LocationState = "unknown" | "asking" | "watching" | "denied" | "unavailable" | "unsupported";
export type DoctorStatus = "offline" | "available" | "offered" | "en_route" | "on_visit" | "on_break";

export interface Offer {
  offer_id: string;
  booking_id: string;
  expires_at: string;
  ttl_s: number;
  eta_s: number | null;
  call_type: string;
  priority: string;
  is_emergency: boolean;
  address: string;
  lat: number;
  lon: number;
  symptoms: string;
  /** The patient is a child. */
  patient_is_child: boolean;
  /** The language the patient asked for, if any (ISO 639-1). */
  language: string | null;
  /** The patient chose this doctor. */
  chosen: boolean;
  /** When it ends on this device's clock (ms). */
  deadline: number;
}

export interface DoctorState {
  connection: ChannelState;
  status: DoctorStatus;
  onShift: boolean;
  location: LocationState;
  position: { lat: number; lon: number; accuracy_m: number } | null;
  fixes: number;
  offer: Offer | null;
  visitId: string | null;
  visitStatus: string | null;
  lastOutcome: { kind: "lapsed" | "taken" | "declined" | "accepted"; at: number } | null;
}

export const initialDoctorState = (): DoctorState => ({
  connection: "connecting",
  status: "offline",
  onShift: false,
  location: "unknown",
  position: null,
  fixes: 0,
  offer: null,
  visitId: null,
  visitStatus: null,
  lastOutcome: null,
});

const ENDED = ["completed", "cancelled", "no_doctor_found", "searching"];

export function offerFrom(m: GatewayMessage, now: number): Offer {
  const ttl = Number(m.ttl_s ?? 0);
  return {
    offer_id: String(m.offer_id),
    booking_id: String(m.booking_id),
    expires_at: String(m.expires_at ?? ""),
    ttl_s: ttl,
    eta_s: typeof m.eta_s === "number" ? m.eta_s : null,
    call_type: String(m.call_type ?? "home_visit"),
    priority: String(m.priority ?? "normal"),
    is_emergency: Boolean(m.is_emergency),
    address: String(m.address ?? ""),
    lat: Number(m.lat ?? m.latitude),
    lon: Number(m.lon ?? m.longitude),
    symptoms: String(m.symptoms ?? ""),
    patient_is_child: m.patient_is_child === true,
    language: typeof m.language === "string" && m.language ? m.language : null,
    chosen: m.chosen === true,
    deadline: now + ttl * 1000,
  };
}

/** What one frame from the gateway changes. `alert` is true for a new offer (ring). */
export function applyDoctorMessage(s: DoctorState, m: GatewayMessage, now: number): { state: DoctorState; alert: boolean } {
  switch (m.type) {
    case "snapshot": {
      const shift = m.shift as string | null | undefined;
      const offer = m.offer && typeof m.offer === "object" ? offerFrom(m.offer as GatewayMessage, now) : null;
      const visitId = typeof m.booking_id === "string" ? m.booking_id : null;
      const status: DoctorStatus = !shift ? "offline" : visitId ? (m.status === "arrived" || m.status === "in_progress" ? "on_visit" : "en_route") : offer ? "offered" : (shift as DoctorStatus);
      const isNew = Boolean(offer && offer.offer_id !== s.offer?.offer_id);
      return {
        state: { ...s, onShift: Boolean(shift), status, offer, visitId, visitStatus: visitId ? String(m.status) : null },
        alert: isNew,
      };
    }
    case "offer": {
      const offer = offerFrom(m, now);
      return { state: { ...s, offer, status: s.status === "available" ? "offered" : s.status }, alert: offer.offer_id !== s.offer?.offer_id };
    }
    case "offer_ended": {
      if (!s.offer || s.offer.offer_id !== m.offer_id) return { state: s, alert: false };
      const outcome = m.outcome === "expired" ? "lapsed" : m.outcome === "declined" ? "declined" : m.outcome === "accepted" ? "accepted" : "taken";
      return {
        state: { ...s, offer: null, status: s.status === "offered" ? "available" : s.status, lastOutcome: { kind: outcome, at: now } },
        alert: false,
      };
    }
    case "doctor_assigned":
      return { state: { ...s, offer: null, visitId: String(m.booking_id), visitStatus: "assigned", status: "en_route" }, alert: false };
    case "doctor_released":
      if (s.visitId !== m.booking_id) return { state: s, alert: false };
      return { state: { ...s, visitId: null, visitStatus: null, status: s.onShift ? "available" : "offline" }, alert: false };
    case "status":
    case "progressed": {
      if (s.visitId !== m.booking_id) return { state: s, alert: false };
      const status = String(m.status);
      if (ENDED.includes(status)) return { state: { ...s, visitId: null, visitStatus: null, status: s.onShift ? "available" : "offline" }, alert: false };
      return { state: { ...s, visitStatus: status, status: status === "arrived" || status === "in_progress" ? "on_visit" : "en_route" }, alert: false };
    }
    case "shift":
    case "availability": {
      const status = String(m.status) as DoctorStatus;
      return { state: { ...s, status, onShift: status !== "offline" }, alert: false };
    }
    default:
      return { state: s, alert: false };
  }
}

export const doctor$ = createStore<DoctorState>(initialDoctorState());

const FIX_EVERY_MS = 3_000;
let channel: Channel | null = null;
let watch: number | null = null;
let lastFixSent = 0;
let pinger: ReturnType<typeof setInterval> | undefined;

function ring(): void {
  try {
    navigator.vibrate?.([400, 200, 400, 200, 400]);
  } catch {
    /* no vibration */
  }
  try {
    const Ctx = window.AudioContext ?? (window as unknown as { webkitAudioContext?: typeof AudioContext }).webkitAudioContext;
    if (!Ctx) return;
    const ctx = new Ctx();
    for (const [i, freq] of [880, 660, 880].entries()) {
      const osc = ctx.createOscillator();
      const gain = ctx.createGain();
      osc.frequency.value = freq;
      gain.gain.value = 0.15;
      osc.connect(gain).connect(ctx.destination);
      osc.start(ctx.currentTime + i * 0.35);
      osc.stop(ctx.currentTime + i * 0.35 + 0.25);
    }
    setTimeout(() => void ctx.close(), 1500);
  } catch {
    /* the browser may refuse sound before a tap */
  }
}

function set(patch: Partial<DoctorState> | ((s: DoctorState) => DoctorState)): void {
  doctor$.set((s) => (typeof patch === "function" ? patch(s) : { ...s, ...patch }));
}

function sendFix(force = false): void {
  const s = doctor$.get();
  if (!channel || !s.onShift || !s.position) return;
  const now = Date.now();
  if (!force && now - lastFixSent < FIX_EVERY_MS) return;
  const { lat, lon, accuracy_m } = s.position;
  if (channel.send({ type: "position", lat, lon, accuracy_m, recorded_at: new Date(now).toISOString() })) {
    lastFixSent = now;
    set((x) => ({ ...x, fixes: x.fixes + 1 }));
  }
}

/** Follows the device's position. Resolves with the first fix, or null when there is none. */
export function watchLocation(): Promise<DoctorState["position"]> {
  return new Promise((resolve) => {
    if (typeof navigator === "undefined" || !("geolocation" in navigator)) {
      set({ location: "unsupported" });
      resolve(null);
      return;
    }
    if (watch !== null) {
      resolve(doctor$.get().position);
      return;
    }
    set({ location: "asking" });
    let first = true;
    watch = navigator.geolocation.watchPosition(
      (p) => {
        const position = { lat: p.coords.latitude, lon: p.coords.longitude, accuracy_m: Math.min(p.coords.accuracy || 50, 10_000) };
        set({ position, location: "watching" });
        sendFix();
        if (first) {
          first = false;
          resolve(position);
        }
      },
      (err) => {
        set({ location: err.code === err.PERMISSION_DENIED ? "denied" : "unavailable" });
        if (err.code === err.PERMISSION_DENIED && watch !== null) {
          navigator.geolocation.clearWatch(watch);
          watch = null;
        }
        if (first) {
          first = false;
          resolve(null);
        }
      },
      { enableHighAccuracy: true, maximumAge: 5_000, timeout: 20_000 },
    );
  });
}

/** Reads the permission without asking (so the screen can say it before the tap). */
export async function checkPermission(): Promise<void> {
  try {
    const status = await navigator.permissions?.query({ name: "geolocation" as PermissionName });
    if (status?.state === "denied") set({ location: "denied" });
    if (status?.state === "granted" && doctor$.get().location === "unknown") void watchLocation();
  } catch {
    /* not supported: we learn on the first request */
  }
}

async function onOpen(): Promise<void> {
  sendFix(true);
  try {
    const offers = await api<(Offer & { latitude: number; longitude: number })[]>("/offers");
    const first = offers[0];
    if (first && !doctor$.get().offer) set({ offer: offerFrom({ type: "offer", ...first, lat: first.latitude, lon: first.longitude }, Date.now()) });
  } catch {
    /* the snapshot has it too */
  }
}

export function startDoctor(): void {
  if (channel) return;
  channel = new Channel("/ws/doctor", {
    token: freshAccessToken,
    onState: (connection) => set({ connection }),
    onOpen: () => void onOpen(),
    onMessage: (m) => {
      const { state, alert } = applyDoctorMessage(doctor$.get(), m, Date.now());
      doctor$.set(state);
      if (alert) ring();
    },
  });
  void channel.connect();
  void checkPermission();
  pinger = setInterval(() => {
    if (doctor$.get().onShift) sendFix(true);
    else channel?.send({ type: "ping" });
  }, 20_000);
}

export function stopDoctor(): void {
  channel?.close();
  channel = null;
  clearInterval(pinger);
  if (watch !== null) navigator.geolocation.clearWatch(watch);
  watch = null;
  doctor$.set(initialDoctorState());
}

function need(): Channel {
  if (!channel) throw new Error("not connected");
  return channel;
}

export async function goOnline(): Promise<void> {
  const position = doctor$.get().position ?? (await watchLocation());
  if (!position) throw new LocationError(doctor$.get().location);
  const reply = await need().request({ type: "shift", action: "start", lat: position.lat, lon: position.lon, accuracy_m: position.accuracy_m });
  set({ onShift: true, status: String(reply.status) as DoctorStatus });
}

export async function goOffline(): Promise<void> {
  const reply = await need().request({ type: "shift", action: "end" });
  set({ onShift: false, status: String(reply.status ?? "offline") as DoctorStatus });
}

export async function setBreak(onBreak: boolean): Promise<void> {
  const reply = await need().request({ type: "availability", available: !onBreak });
  set({ status: String(reply.status) as DoctorStatus });
}

export async function acceptOffer(): Promise<string> {
  const offer = doctor$.get().offer;
  if (!offer) throw new Error("no offer");
  const reply = await need().request({ type: "accept", offer_id: offer.offer_id });
  const bookingId = String(reply.booking_id ?? offer.booking_id);
  set({ offer: null, visitId: bookingId, visitStatus: "assigned", status: "en_route", lastOutcome: { kind: "accepted", at: Date.now() } });
  return bookingId;
}

export async function declineOffer(reason: string): Promise<void> {
  const offer = doctor$.get().offer;
  if (!offer) return;
  await need().request({ type: "decline", offer_id: offer.offer_id, reason });
  set((s) => ({ ...s, offer: null, status: s.status === "offered" ? "available" : s.status, lastOutcome: { kind: "declined", at: Date.now() } }));
}

export interface ExtraChoice {
  code: string;
  reason: string;
}

export async function progress(bookingId: string, status: "en_route" | "arrived" | "in_progress" | "completed", extras?: ExtraChoice[]): Promise<void> {
  const message: Record<string, unknown> = { type: "progress", booking_id: bookingId, status };
  if (extras && extras.length) message.extras = extras;
  const reply = await need().request(message as never);
  const { state } = applyDoctorMessage(doctor$.get(), { ...reply, type: "progressed", booking_id: bookingId, status: String(reply.status ?? status) }, Date.now());
  doctor$.set(state);
}

export function getBooking(id: string): Promise<Booking> {
  return api<Booking>(`/bookings/${encodeURIComponent(id)}`);
}

export class LocationError extends Error {
  constructor(readonly state: LocationState) {
    super(`location ${state}`);
  }
}

/** For the browser tests and the console. */
export function channelForTests(): Channel | null {
  return channel;
}
