export type BookingStatus =
  | "requested" | "scheduled" | "searching" | "offered" | "assigned" | "en_route"
  | "arrived" | "in_progress" | "completed" | "cancelled" | "no_doctor_found";

export const ACTIVE_STATUSES: BookingStatus[] = [
  "requested", "scheduled", "searching", "offered", "assigned", "en_route", "arrived", "in_progress",
];
export const WITH_DOCTOR: BookingStatus[] = ["assigned", "en_route", "arrived", "in_progress"];
export const FINAL_STATUSES: BookingStatus[] = ["completed", "cancelled", "no_doctor_found"];

export interface DoctorPublic {
  id: string;
  first_name: string;
  last_name: string;
  specialization: string | null;
  experience_years: number | null;
  rating: number | null;
  languages: string[];
}

export interface StatusEntry {
  status: BookingStatus;
  at: string;
  reason: string;
}

export interface Booking {
  id: string;
  status: BookingStatus;
  priority: "normal" | "urgent" | "emergency";
  is_emergency: boolean;
  call_type: string;
  address: string;
  latitude: number;
  longitude: number;
  symptoms: string;
  notes: string;
  patient_id: string;
  doctor: DoctorPublic | null;
  created_at: string;
  scheduled_at: string | null;
  assigned_at: string | null;
  completed_at: string | null;
  cancelled_at: string | null;
  estimated_price_kopecks: number | null;
  final_price_kopecks: number | null;
  currency: string;
  history: StatusEntry[];
  requested_doctor_id?: string | null;
  others_if_declined?: boolean;
  patient_is_child?: boolean;
  language?: string | null;
  clinic_id?: string | null;
}

export interface Estimate {
  price_kopecks: number;
  extras_cap_kopecks: number;
  payment_methods: ("card" | "sbp" | "at_visit")[];
  currency: string;
  eta_s: number | null;
  doctors_available: number;
}

export interface AvailableDoctor {
  doctor_id: string;
  first_name: string;
  last_name: string;
  specialization: string | null;
  languages: string[];
  rating: number | null;
  eta_s: number;
  distance_m: number;
}

export interface VisitRequest {
  latitude: number;
  longitude: number;
  address: string;
  symptoms: string;
  call_type: string;
  priority: "normal" | "urgent";
  is_emergency?: boolean;
  emergency_type?: string | null;
  scheduled_at?: string | null;
  requested_doctor_id?: string | null;
  others_if_declined?: boolean;
  patient_is_child?: boolean;
  language?: string;
  /** How the patient pays (the estimate's `payment_methods`); the engine's default is card. */
  payment_method?: "card" | "sbp" | "at_visit";
}
