/** The admin panel's API (issue 14's contract). */
import { api } from "../../lib/http";
import type { User, Role } from "../auth/types";
import type { Page } from "../clinic/cursorList";

export interface AdminDocument {
  document_id: string;
  kind: string;
  number: string | null;
  issued_by: string | null;
  valid_until: string | null;
  uploaded_at: string;
  content_type: string | null;
  size_bytes: number | null;
  has_file: boolean;
  review: "pending" | "approved" | "rejected";
  review_reason: string | null;
}

export interface ModerationItem {
  doctor_id: string;
  first_name: string;
  last_name: string;
  email: string;
  clinic_id: string | null;
  submitted_at: string;
  /** "rejected": turned down before, with a new document since. */
  verification?: "pending" | "verified" | "rejected";
  documents: AdminDocument[];
}

export type AdminUser = User & { clinic_id: string | null };

export interface AuditEntry {
  at: string;
  actor_id: string | null;
  actor_role: string | null;
  action: string;
  target_type: string;
  target_id: string;
  request_id: string | null;
  ip: string | null;
  detail: string | null;
}

export interface SystemStatus {
  health: string;
  ready: boolean;
  checks: Record<string, unknown>;
  storage: string;
  bus: string;
  open_bookings: Record<string, number>;
  doctors: Record<string, number>;
  dispatch_ms: { p50: number | null; p99: number | null; count: number };
  websocket_connections: number;
  uptime_s: number;
}

export interface EmergencyNumber {
  label_ru: string;
  label_en: string;
  number: string;
}

export interface PlatformSettings {
  offer_ttl_s: number;
  emergency_offer_ttl_s?: number | null;
  give_up_after_s: number;
  max_offers: number;
  emergency_numbers: EmergencyNumber[];
  emergency_text_ru: string;
  emergency_text_en: string;
}

const enc = encodeURIComponent;

export const adminApi = {
  moderation: (q: string) => api<Page<ModerationItem>>(`/admin/moderation/doctors?${q}`),
  decide: (doctorId: string, decision: "approve" | "reject", reason: string) =>
    api<unknown>(`/admin/doctors/${enc(doctorId)}/verification`, { method: "POST", body: { decision, reason } }),
  documentFileUrl: (documentId: string) => `/admin/documents/${enc(documentId)}/file`,
  users: (q: string) => api<Page<AdminUser>>(`/admin/users?${q}`),
  user: (id: string) => api<AdminUser>(`/admin/users/${enc(id)}`),
  block: (id: string, reason: string) => api<AdminUser>(`/admin/users/${enc(id)}/block`, { method: "POST", body: { reason } }),
  unblock: (id: string) => api<AdminUser>(`/admin/users/${enc(id)}/unblock`, { method: "POST" }),
  role: (id: string, role: Role, reason: string, clinicId: string | null) =>
    api<AdminUser>(`/admin/users/${enc(id)}/role`, { method: "PUT", body: { role, reason, clinic_id: clinicId } }),
  audit: (q: string) => api<Page<AuditEntry>>(`/admin/audit?${q}`),
  status: () => api<SystemStatus>("/admin/status"),
  settings: () => api<PlatformSettings>("/admin/settings"),
  saveSettings: (body: Partial<PlatformSettings>) => api<PlatformSettings>("/admin/settings", { method: "PATCH", body }),
  clinics: (q: string) => api<Page<{ clinic_id: string; name: string }>>(`/clinics?${q}`),
};
