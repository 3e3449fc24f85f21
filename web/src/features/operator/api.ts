/** The operator's HTTP calls (api/routes/operators.py). Every change carries a reason. */
import { api } from "../../lib/http";
import type { Booking, BookingPage, Bounds, BulkAction, Decision, DoctorPublic, Filters, Priority, Timeline } from "./types";

const enc = encodeURIComponent;

/** The query string of a search: server-side filters and the cursor (pure: tested). */
export function searchQuery(filters: Filters, bounds: Bounds | null, cursor: string | null, limit: number): string {
  const q = new URLSearchParams();
  if (filters.q.trim()) q.set("q", filters.q.trim());
  if (filters.status) q.append("status", filters.status);
  if (filters.priority) q.append("priority", filters.priority);
  if (filters.clinicId.trim()) q.set("clinic_id", filters.clinicId.trim());
  if (filters.area && bounds) {
    q.set("south", bounds.south.toFixed(6));
    q.set("west", bounds.west.toFixed(6));
    q.set("north", bounds.north.toFixed(6));
    q.set("east", bounds.east.toFixed(6));
  }
  if (cursor) q.set("cursor", cursor);
  q.set("limit", String(limit));
  return q.toString();
}

export function searchBookings(filters: Filters, bounds: Bounds | null, cursor: string | null, limit = 50, signal?: AbortSignal): Promise<BookingPage> {
  return api<BookingPage>(`/operator/bookings?${searchQuery(filters, bounds, cursor, limit)}`, { signal });
}

export function emergencies(): Promise<BookingPage> {
  return api<BookingPage>("/operator/bookings?priority=emergency&limit=100");
}

export function booking(id: string): Promise<Booking> {
  return api<Booking>(`/bookings/${enc(id)}`);
}

export function decision(id: string): Promise<Decision> {
  return api<Decision>(`/operator/bookings/${enc(id)}/decision`);
}

export function timeline(id: string): Promise<Timeline> {
  return api<Timeline>(`/operator/bookings/${enc(id)}/timeline`);
}

export function assign(id: string, doctorId: string, reason: string, releaseCurrent: boolean): Promise<Booking> {
  return api<Booking>(`/operator/bookings/${enc(id)}/assign`, {
    method: "POST",
    body: { doctor_id: doctorId, reason, release_current: releaseCurrent },
  });
}

export function returnToSearch(id: string, reason: string): Promise<Booking> {
  return api<Booking>(`/operator/bookings/${enc(id)}/return-to-search`, { method: "POST", body: { reason } });
}

export function cancel(id: string, reason: string): Promise<Booking> {
  return api<Booking>(`/operator/bookings/${enc(id)}/cancel`, { method: "POST", body: { reason } });
}

export function changePriority(id: string, priority: Priority, reason: string): Promise<Booking> {
  return api<Booking>(`/operator/bookings/${enc(id)}/priority`, { method: "POST", body: { priority, reason } });
}

export function bulk(action: BulkAction, ids: string[], reason: string): Promise<BookingPage> {
  return api<BookingPage>("/operator/bookings/bulk", { method: "POST", body: { action, booking_ids: ids, reason } });
}

const names = new Map<string, Promise<string | null>>();

/** A doctor's name (the public profile), asked once per doctor. */
export function doctorName(id: string): Promise<string | null> {
  let found = names.get(id);
  if (!found) {
    found = api<DoctorPublic>(`/doctors/${enc(id)}`)
      .then((d) => [d.first_name, d.last_name].filter(Boolean).join(" ") || null)
      .catch(() => null);
    names.set(id, found);
  }
  return found;
}
