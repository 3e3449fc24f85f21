import { api } from "../../lib/http";
import type { SavedAddress, User } from "../auth/types";
import type { AvailableDoctor, Booking, Estimate, VisitRequest } from "./types";

/** The estimate takes the visit's place and kind only (the engine refuses unknown fields). */
export function estimate(visit: VisitRequest, signal?: AbortSignal): Promise<Estimate> {
  const body = {
    latitude: visit.latitude,
    longitude: visit.longitude,
    call_type: visit.call_type,
    priority: visit.priority,
    is_emergency: visit.is_emergency ?? false,
  };
  return api<Estimate>("/bookings/estimate", { method: "POST", body, signal });
}

export function createBooking(visit: VisitRequest, idempotencyKey: string): Promise<Booking> {
  return api<Booking>("/bookings", { method: "POST", body: visit, headers: { "Idempotency-Key": idempotencyKey } });
}

export function getBooking(id: string): Promise<Booking> {
  return api<Booking>(`/bookings/${encodeURIComponent(id)}`);
}

export function cancelBooking(id: string, reason: string): Promise<Booking> {
  return api<Booking>(`/bookings/${encodeURIComponent(id)}/cancel`, { method: "POST", body: { reason } });
}

export interface BookingPage {
  bookings: Booking[];
  next_cursor: string | null;
}

export function listBookings({ statuses = [], cursor = null, limit = 20 }: { statuses?: string[]; cursor?: string | null; limit?: number } = {}): Promise<BookingPage> {
  const q = new URLSearchParams({ limit: String(limit) });
  for (const s of statuses) q.append("status", s);
  if (cursor) q.set("cursor", cursor);
  return api<BookingPage>(`/bookings?${q}`);
}

export interface DoctorFilter {
  lat: number;
  lon: number;
  call_type: string;
  specialization?: string;
  language?: string;
  child: boolean;
}

export async function availableDoctors(f: DoctorFilter, signal?: AbortSignal): Promise<AvailableDoctor[]> {
  const q = new URLSearchParams({
    lat: f.lat.toFixed(6),
    lon: f.lon.toFixed(6),
    call_type: f.call_type,
    child: String(f.child),
    limit: "10",
  });
  if (f.specialization) q.set("specialization", f.specialization);
  if (f.language) q.set("language", f.language);
  const out = await api<{ doctors: AvailableDoctor[] }>(`/doctors/available?${q}`, { signal });
  return out.doctors;
}

export interface ProfilePatch {
  first_name?: string;
  last_name?: string;
  phone?: string | null;
  locale?: "ru" | "en";
  saved_addresses?: SavedAddress[];
}

export function updateProfile(patch: ProfilePatch): Promise<User> {
  return api<User>("/auth/me", { method: "PATCH", body: patch });
}
