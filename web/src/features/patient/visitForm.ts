/** The new visit's form: its checks and the request it makes (pure, tested). */
import type { MessageKey } from "../../i18n";
import type { VisitRequest } from "./types";

export interface VisitForm {
  address: string;
  point: { lat: number; lon: number } | null;
  symptoms: string;
  callType: "home_visit" | "consultation" | "urgent";
  child: boolean;
  when: "now" | "later";
  /** A datetime-local value ("2026-12-01T14:30"), in the device's time zone. */
  scheduledAt: string;
  /** The language the doctor should speak; "" for any. */
  language: string;
  doctorId: string | null;
  othersIfDeclined: boolean;
  /** card (held when a doctor accepts, charged at completion), sbp (after the visit), at_visit. */
  paymentMethod?: "card" | "sbp" | "at_visit";
}

export const MIN_LEAD_MS = 30 * 60 * 1000;
export const MAX_AHEAD_MS = 60 * 24 * 3600 * 1000;

export function checkVisit(form: VisitForm, now: number): Partial<Record<"address" | "symptoms" | "scheduledAt", MessageKey>> {
  const errors: Partial<Record<"address" | "symptoms" | "scheduledAt", MessageKey>> = {};
  if (!form.point) errors.address = form.address.trim() ? "visit.pickSuggestion" : "visit.addressRequired";
  if (form.address.length > 500) errors.address = "validation.tooLong";
  if (form.symptoms.length > 4000) errors.symptoms = "validation.tooLong";
  if (form.when === "later") {
    const at = new Date(form.scheduledAt).getTime();
    if (!form.scheduledAt || Number.isNaN(at)) errors.scheduledAt = "visit.timeRequired";
    else if (at < now + MIN_LEAD_MS) errors.scheduledAt = "visit.timeTooSoon";
    else if (at > now + MAX_AHEAD_MS) errors.scheduledAt = "visit.timeTooFar";
  }
  return errors;
}

export function visitRequest(form: VisitForm): VisitRequest {
  if (!form.point) throw new Error("no point");
  const body: VisitRequest = {
    latitude: Number(form.point.lat.toFixed(6)),
    longitude: Number(form.point.lon.toFixed(6)),
    address: form.address.trim(),
    symptoms: form.symptoms.trim(),
    call_type: form.callType,
    priority: form.callType === "urgent" ? "urgent" : "normal",
  };
  // Left out at their defaults (an adult, any language), so the engine's defaults apply.
  if (form.child) body.patient_is_child = true;
  if (form.language) body.language = form.language;
  if (form.paymentMethod) body.payment_method = form.paymentMethod;
  if (form.when === "later") body.scheduled_at = new Date(form.scheduledAt).toISOString();
  if (form.doctorId) {
    body.requested_doctor_id = form.doctorId;
    body.others_if_declined = form.othersIfDeclined;
  }
  return body;
}
