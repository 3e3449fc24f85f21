/** The statistics' period: dates (YYYY-MM-DD, the clinic's days). Pure, tested. */

export function isoDate(d: Date): string {
  const y = d.getUTCFullYear();
  const m = String(d.getUTCMonth() + 1).padStart(2, "0");
  const day = String(d.getUTCDate()).padStart(2, "0");
  return `${y}-${m}-${day}`;
}

/** The last `days` days up to `today` (inclusive). */
export function lastDays(today: string, days: number): { since: string; until: string } {
  const end = new Date(`${today}T00:00:00Z`);
  const start = new Date(end.getTime() - (days - 1) * 86_400_000);
  return { since: isoDate(start), until: isoDate(end) };
}

/** A period the server will take: both dates valid, since ≤ until, at most 366 days. */
export function checkPeriod(since: string, until: string): "clinic.periodInvalid" | "clinic.periodOrder" | "clinic.periodTooLong" | null {
  const re = /^\d{4}-\d{2}-\d{2}$/;
  if (!re.test(since) || !re.test(until)) return "clinic.periodInvalid";
  const a = Date.parse(`${since}T00:00:00Z`);
  const b = Date.parse(`${until}T00:00:00Z`);
  if (!Number.isFinite(a) || !Number.isFinite(b)) return "clinic.periodInvalid";
  if (a > b) return "clinic.periodOrder";
  if ((b - a) / 86_400_000 > 366) return "clinic.periodTooLong";
  return null;
}
