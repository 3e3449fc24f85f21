/** What the operator's API and socket say (api/schemas.py, the AsyncAPI document). */

export type BookingStatus =
  | "requested"
  | "scheduled"
  | "searching"
  | "offered"
  | "assigned"
  | "en_route"
  | "arrived"
  | "in_progress"
  | "completed"
  | "cancelled"
  | "no_doctor_found";

export type Priority = "normal" | "urgent" | "emergency";

export const OPEN_STATUSES: BookingStatus[] = [
  "requested",
  "scheduled",
  "searching",
  "offered",
  "assigned",
  "en_route",
  "arrived",
  "in_progress",
];
export const PRIORITIES: Priority[] = ["normal", "urgent", "emergency"];

export interface DoctorPublic {
  id: string;
  first_name: string;
  last_name: string;
  specialization: string | null;
  rating: number | null;
}

export interface HistoryEntry {
  status: string;
  at: string;
  reason?: string | null;
  by?: string | null;
}

export interface Booking {
  id: string;
  status: BookingStatus;
  priority: Priority;
  is_emergency: boolean;
  call_type: string;
  address: string;
  latitude: number;
  longitude: number;
  symptoms: string;
  notes: string;
  clinic_id: string | null;
  patient_id: string;
  doctor: DoctorPublic | null;
  created_at: string;
  scheduled_at: string | null;
  patient_is_child: boolean;
  language: string | null;
  history: HistoryEntry[];
}

export interface BookingPage {
  bookings: Booking[];
  next_cursor: string | null;
}

export interface Candidate {
  doctor_id: string;
  distance_m: number;
  eta_s: number | null;
  visit_remainder_s: number;
  rating: number | null;
  visits_today: number | null;
  cost_s: number | null;
  rank: number | null;
  excluded: string | null;
}

export interface Decision {
  call_id: string;
  decided_at: string | null;
  ranking: string[];
  considered: Candidate[];
}

export interface TimelineEntry {
  at: string;
  kind: "status" | "note" | "audit";
  status: BookingStatus | null;
  by: string;
  detail: string;
}

export interface Timeline {
  booking_id: string;
  entries: TimelineEntry[];
}

/** The statuses a doctor on the map can have (offline doctors are not on it). */
export const LIVE_DOCTOR_STATUSES = ["available", "offered", "en_route", "on_visit", "on_break"] as const;
export type LiveDoctorStatus = (typeof LIVE_DOCTOR_STATUSES)[number];
export type DoctorStatus = LiveDoctorStatus | "offline";

export interface FeedDoctor {
  doctor_id: string;
  status: DoctorStatus;
  lat: number;
  lon: number;
  stale: boolean;
}

export interface FeedBooking {
  booking_id: string;
  status: BookingStatus;
  priority: Priority;
  is_emergency: boolean;
  lat: number;
  lon: number;
  doctor_id: string | null;
}

export interface Feed {
  type: "feed";
  at: string;
  doctors: FeedDoctor[];
  bookings: FeedBooking[];
}

export type AlertKind = "no_doctor_found" | "emergency" | "escalation" | "doctor_offline" | "preempted" | "stale_en_route";

export interface Alert {
  kind: AlertKind | string;
  booking_id: string;
  detail: string;
  at: string;
  seq?: number;
}

export interface Filters {
  q: string;
  status: BookingStatus | "";
  priority: Priority | "";
  clinicId: string;
  /** Only bookings in the map's current bounds. */
  area: boolean;
}

export interface Bounds {
  south: number;
  west: number;
  north: number;
  east: number;
}

export type BulkAction = "return_to_search" | "cancel";
