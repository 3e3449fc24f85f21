/** Plain words for the engine's codes: statuses, call types, specialities, languages and
 * the reasons in a booking's history. Every key is written out, so the catalogue test
 * sees it. */
import type { MessageKey } from "./index";

export const BOOKING_STATUS: Record<string, MessageKey> = {
  requested: "status.requested",
  scheduled: "status.scheduled",
  searching: "status.searching",
  offered: "status.offered",
  assigned: "status.assigned",
  en_route: "status.en_route",
  arrived: "status.arrived",
  in_progress: "status.in_progress",
  completed: "status.completed",
  cancelled: "status.cancelled",
  no_doctor_found: "status.no_doctor_found",
};

export const DOCTOR_STATUS: Record<string, MessageKey> = {
  offline: "doctorStatus.offline",
  available: "doctorStatus.available",
  offered: "doctorStatus.offered",
  en_route: "doctorStatus.en_route",
  on_visit: "doctorStatus.on_visit",
  on_break: "doctorStatus.on_break",
};

export const CALL_TYPE: Record<string, MessageKey> = {
  home_visit: "callType.home_visit",
  consultation: "callType.consultation",
  urgent: "callType.urgent",
  chest_pain: "callType.chest_pain",
  stroke_signs: "callType.stroke_signs",
  unconscious: "callType.unconscious",
  severe_bleeding: "callType.severe_bleeding",
  breathing_difficulty: "callType.breathing_difficulty",
  fire_or_accident: "callType.fire_or_accident",
};

export const SPECIALIZATION: Record<string, MessageKey> = {
  general: "specialization.general",
  therapist: "specialization.therapist",
  pediatrician: "specialization.pediatrician",
  cardiologist: "specialization.cardiologist",
  neurologist: "specialization.neurologist",
};

export const LANGUAGE: Record<string, MessageKey> = {
  ru: "language.ru",
  en: "language.en",
  de: "language.de",
  fr: "language.fr",
  tt: "language.tt",
};

/** The engine's own words in a history entry, as a message; null when there is nothing
 * to add to the status (its words are technical: "offered to 9d93dd90", "doctor reports
 * en_route"); text that people wrote (a cancellation's reason) is shown as written. */
export function reasonWords(reason: string | null | undefined): { key: MessageKey } | { text: string } | null {
  const r = (reason ?? "").trim();
  if (!r) return null;
  if (/^offered to\b/.test(r) || /^doctor reports\b/.test(r) || r === "search started" || r === "a doctor is assigned") return null;
  if (BOOKING_STATUS[r]) return null;
  const known: Record<string, MessageKey> = {
    "offers made afresh": "reason.offersAfresh",
    "no offer accepted yet": "reason.noOfferYet",
    "waits for its time": "reason.waitsForTime",
    "scheduled time reached": "reason.scheduledReached",
    "cancelled by the patient": "reason.cancelledByPatient",
    "offer accepted": "reason.offerAccepted",
    "no answer in time": "reason.noAnswer",
    "no doctor could be found": "reason.noDoctor",
    "the doctor went offline": "reason.doctorOffline",
    "we are finding you another doctor": "reason.findingAnother",
    "an operator assigned a doctor": "reason.operatorAssigned",
    "doctor assigned elsewhere by an operator": "reason.reassigned",
  };
  const key = known[r];
  if (key) return { key };
  if (/^doctor [0-9a-f]+ taken by emergency/.test(r)) return { key: "reason.preempted" };
  if (/\b[0-9a-f]{32}\b/.test(r) || /^[a-z_]+:/.test(r)) return { key: "reason.system" };
  return { text: r };
}
