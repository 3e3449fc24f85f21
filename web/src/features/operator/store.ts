/**
 * The console's list state as pure functions over plain values (tested without a DOM):
 * the loaded pages of bookings, the cursor row (j/k), the open booking, the rows ticked for
 * a bulk action, the alerts.
 */
import type { Alert, Booking, BookingPage, Filters } from "./types";

export interface ListState {
  bookings: Booking[];
  nextCursor: string | null;
  /** The row the keyboard is on (index into bookings), -1 for none. */
  cursor: number;
  /** The booking whose details are open. */
  openId: string | null;
  /** Ticked for a bulk action (kept across pages and reloads while the booking is listed). */
  checked: ReadonlySet<string>;
}

export const emptyList: ListState = { bookings: [], nextCursor: null, cursor: -1, openId: null, checked: new Set() };

export const defaultFilters: Filters = { q: "", status: "", priority: "", clinicId: "", area: false };

/** A first page (a new search or a reload) or the next page appended. The cursor stays on
 * the same booking when it is still listed; ticks of bookings no longer listed go. */
export function withPage(state: ListState, page: BookingPage, append: boolean): ListState {
  const bookings = append ? dedupe([...state.bookings, ...page.bookings]) : page.bookings;
  const cursorId = state.bookings[state.cursor]?.id;
  let cursor = cursorId ? bookings.findIndex((b) => b.id === cursorId) : -1;
  if (cursor < 0 && bookings.length) cursor = Math.min(Math.max(state.cursor, 0), bookings.length - 1);
  if (!bookings.length) cursor = -1;
  const listed = new Set(bookings.map((b) => b.id));
  const checked = new Set([...state.checked].filter((id) => listed.has(id)));
  return { ...state, bookings, nextCursor: page.next_cursor, cursor, checked: sameSet(checked, state.checked) ? state.checked : checked };
}

function dedupe(bookings: Booking[]): Booking[] {
  const seen = new Set<string>();
  return bookings.filter((b) => (seen.has(b.id) ? false : (seen.add(b.id), true)));
}

function sameSet(a: ReadonlySet<string>, b: ReadonlySet<string>): boolean {
  return a.size === b.size && [...a].every((x) => b.has(x));
}

/** j/k: one row down or up, stopping at the ends. */
export function move(state: ListState, delta: number): ListState {
  if (!state.bookings.length) return state;
  const from = state.cursor < 0 ? (delta > 0 ? -1 : state.bookings.length) : state.cursor;
  const cursor = Math.min(state.bookings.length - 1, Math.max(0, from + delta));
  return cursor === state.cursor ? state : { ...state, cursor };
}

export function cursorTo(state: ListState, id: string): ListState {
  const cursor = state.bookings.findIndex((b) => b.id === id);
  return cursor < 0 ? state : { ...state, cursor };
}

/** Enter: open the cursor's booking. */
export function openCursor(state: ListState): ListState {
  const b = state.bookings[state.cursor];
  return b ? { ...state, openId: b.id } : state;
}

export function open(state: ListState, id: string | null): ListState {
  const moved = id ? cursorTo(state, id) : state;
  return { ...moved, openId: id };
}

/** x: tick or untick a booking for a bulk action (the cursor's when no id is given). */
export function toggle(state: ListState, id?: string): ListState {
  const target = id ?? state.bookings[state.cursor]?.id;
  if (!target) return state;
  const checked = new Set(state.checked);
  if (checked.has(target)) checked.delete(target);
  else checked.add(target);
  return { ...state, checked };
}

export function clearChecked(state: ListState): ListState {
  return state.checked.size ? { ...state, checked: new Set() } : state;
}

/** The booking an action applies to: the open one, else the cursor's. */
export function target(state: ListState): string | null {
  return state.openId ?? state.bookings[state.cursor]?.id ?? null;
}

/** The ticked bookings in list order. */
export function checkedIds(state: ListState): string[] {
  return state.bookings.filter((b) => state.checked.has(b.id)).map((b) => b.id);
}

export const MAX_ALERTS = 100;

/** A new alert first; the same one (topic number) once; at most MAX_ALERTS kept. */
export function addAlert(alerts: Alert[], alert: Alert): Alert[] {
  if (alert.seq !== undefined && alerts.some((a) => a.seq === alert.seq && a.booking_id === alert.booking_id && a.kind === alert.kind)) {
    return alerts;
  }
  return [alert, ...alerts].slice(0, MAX_ALERTS);
}

/** The bulk answer to show: all done, or none (with the server's reason). */
export type BulkOutcome =
  | { ok: true; action: string; count: number; ids: string[] }
  | { ok: false; action: string; count: number; detail: string };

/** Repeated reads of the booking by the same person, one after another, shown once with a
 * count (the console itself reads it after every change). */
export function collapseReads<E extends { kind: string; by: string; detail: string }>(entries: E[]): (E & { times: number })[] {
  const out: (E & { times: number })[] = [];
  for (const e of entries) {
    const last = out[out.length - 1];
    if (last && e.kind === "audit" && last.kind === "audit" && last.by === e.by && last.detail === e.detail) last.times += 1;
    else out.push({ ...e, times: 1 });
  }
  return out;
}
