/** The audit viewer's filters as the API's query (pure, tested): local date-times become
 * UTC instants; empty fields are left out. */
export interface AuditForm {
  actor_id: string;
  target_type: string;
  target_id: string;
  action: string;
  since: string; // "YYYY-MM-DDTHH:MM" in the browser's time, or ""
  until: string;
}

export const EMPTY_AUDIT: AuditForm = { actor_id: "", target_type: "", target_id: "", action: "", since: "", until: "" };

export function auditFilters(form: AuditForm): Record<string, string> {
  const out: Record<string, string> = {};
  for (const key of ["actor_id", "target_type", "target_id", "action"] as const) {
    const v = form[key].trim();
    if (v) out[key] = v;
  }
  for (const key of ["since", "until"] as const) {
    if (!form[key]) continue;
    const d = new Date(form[key]);
    if (!Number.isNaN(d.getTime())) out[key] = d.toISOString();
  }
  return out;
}

export function auditFormFrom(query: URLSearchParams): AuditForm {
  return {
    ...EMPTY_AUDIT,
    actor_id: query.get("actor_id") ?? "",
    target_type: query.get("target_type") ?? "",
    target_id: query.get("target_id") ?? "",
    action: query.get("action") ?? "",
  };
}
