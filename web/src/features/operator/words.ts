/** The operator's codes as message keys (every key written out, so the catalogue test sees
 * them). */
import type { MessageKey, Translate } from "../../i18n";

export const PRIORITY: Record<string, MessageKey> = {
  normal: "operator.priority.normal",
  urgent: "operator.priority.urgent",
  emergency: "operator.priority.emergency",
};

export const ALERT: Record<string, MessageKey> = {
  no_doctor_found: "operator.alert.no_doctor_found",
  emergency: "operator.alert.emergency",
  escalation: "operator.alert.escalation",
  doctor_offline: "operator.alert.doctor_offline",
  preempted: "operator.alert.preempted",
  stale_en_route: "operator.alert.stale_en_route",
};

export const EXCLUDED: Record<string, MessageKey> = {
  not_available: "operator.excluded.not_available",
  stale_fix: "operator.excluded.stale_fix",
  declined_this_call: "operator.excluded.declined_this_call",
  credential_expired: "operator.excluded.credential_expired",
  other_clinic: "operator.excluded.other_clinic",
  specialization: "operator.excluded.specialization",
  age_group: "operator.excluded.age_group",
  language: "operator.excluded.language",
  equipment: "operator.excluded.equipment",
  no_road_eta: "operator.excluded.no_road_eta",
};

export const TIMELINE_KIND: Record<string, MessageKey> = {
  status: "operator.timeline.status",
  note: "operator.timeline.note",
  audit: "operator.timeline.audit",
};

export const ROLE: Record<string, MessageKey> = {
  patient: "operator.by.patient",
  doctor: "operator.by.doctor",
  operator: "operator.by.operator",
  admin: "operator.by.admin",
  clinic_admin: "operator.by.clinic_admin",
  system: "operator.by.system",
};

export function shortId(id: string | null | undefined): string {
  return id ? id.slice(0, 8) : "—";
}

/** "operator:3fa2…" as "Operator 3fa2c1d0"; "system" as "System". */
export function who(t: Translate, by: string): string {
  const [role, id] = by.includes(":") ? (by.split(":", 2) as [string, string]) : [by, ""];
  const key = ROLE[role];
  const name = key ? t(key) : role;
  return id ? `${name} ${shortId(id)}` : name;
}

export function words(t: Translate, map: Record<string, MessageKey>, code: string | null | undefined): string {
  if (!code) return "—";
  const key = map[code];
  return key ? t(key) : code.replace(/_/g, " ");
}
