/** The clinic's API (issue 14's contract): clinics, their doctors, statistics. */
import { API, ApiError, NetworkError, api } from "../../lib/http";
import { freshAccessToken } from "../auth/session";
import type { Page } from "./cursorList";
import type { MultiPolygon } from "./polygons";

export interface OpeningHours {
  weekday: number; // 0 = Monday
  opens: string; // "HH:MM"
  closes: string;
}

export interface Clinic {
  clinic_id: string;
  name: string;
  phone: string | null;
  email: string | null;
  address: string | null;
  timezone: string;
  opening_hours: OpeningHours[];
  area: MultiPolygon | null;
  created_at: string;
  updated_at: string;
}

export type Verification = "pending" | "verified" | "rejected";

export interface ClinicDoctor {
  doctor_id: string;
  first_name: string;
  last_name: string;
  email: string;
  specialization: string | null;
  verification: Verification;
  documents: number;
  on_shift: boolean;
  status: string | null;
  lat: number | null;
  lon: number | null;
  visits_completed: number;
}

export interface DoctorVisit {
  booking_id: string;
  status: string;
  call_type: string;
  requested_at: string;
  completed_at: string | null;
  address: string | null;
}

export interface AddDoctorAnswer {
  doctor: ClinicDoctor;
  invited: boolean;
  invitation_url?: string;
}

export interface Stats {
  since: string;
  until: string;
  timezone: string;
  visits: number;
  by_day: { date: string; visits: number }[];
  by_hour: { hour: number; visits: number }[];
  time_to_doctor_s: { p50: number | null; p90: number | null; count: number };
  no_doctor_rate: number | null;
  cancellation_rate: number | null;
  by_doctor: { doctor_id: string; name: string; visits: number; time_to_doctor_p50_s: number | null }[];
  by_call_type: { call_type: string; visits: number; cancellation_rate: number | null }[];
  by_area: { area: string; lat: number; lon: number; visits: number }[];
}

const enc = encodeURIComponent;

export const clinicsApi = {
  list: (query = "") => api<Page<Clinic>>(`/clinics${query ? `?${query}` : ""}`),
  get: (id: string) => api<Clinic>(`/clinics/${enc(id)}`),
  patch: (id: string, body: Partial<Clinic>) => api<Clinic>(`/clinics/${enc(id)}`, { method: "PATCH", body }),
  doctors: (id: string, query: string) => api<Page<ClinicDoctor>>(`/clinics/${enc(id)}/doctors?${query}`),
  addDoctor: (id: string, body: { email: string; first_name?: string; last_name?: string; specialization?: string }) =>
    api<AddDoctorAnswer>(`/clinics/${enc(id)}/doctors`, { method: "POST", body }),
  removeDoctor: (id: string, doctorId: string) => api<null>(`/clinics/${enc(id)}/doctors/${enc(doctorId)}`, { method: "DELETE" }),
  visits: (id: string, doctorId: string, query: string) =>
    api<Page<DoctorVisit>>(`/clinics/${enc(id)}/doctors/${enc(doctorId)}/visits?${query}`),
};

/** The statistics' path: a clinic's, or the platform's (admin). */
export function statsBase(clinicId: string | null): string {
  return clinicId ? `/clinics/${enc(clinicId)}/stats` : "/admin/stats";
}

export function fetchStats(base: string, params: Record<string, string | null | undefined>): Promise<Stats> {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v) q.set(k, v);
  return api<Stats>(`${base}?${q.toString()}`);
}

/** A file the API serves behind the bearer token (a CSV, a document's scan), saved or
 * opened through a blob: URL (a plain link would carry no token). */
export async function downloadFile(url: string, fileName: string | null, { open = false } = {}): Promise<void> {
  const token = await freshAccessToken();
  let response: Response;
  try {
    response = await fetch(url.startsWith(API) ? url : API + url, {
      headers: token ? { Authorization: `Bearer ${token}` } : {},
      credentials: "same-origin",
    });
  } catch {
    throw new NetworkError();
  }
  if (!response.ok) throw new ApiError(response.status, await response.json().catch(() => null));
  const blob = await response.blob();
  const href = URL.createObjectURL(blob);
  const a = document.createElement("a");
  a.href = href;
  if (open) a.target = "_blank";
  else a.download = fileName ?? "download";
  a.rel = "noopener";
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(href), 60_000);
}
