/** The CSV exports' addresses (the statistics' tables, the same period and filters). */
import { API } from "../../lib/http";

export const CSV_TABLES = ["by_day", "by_hour", "by_doctor", "by_call_type", "by_area"] as const;
export type CsvTable = (typeof CSV_TABLES)[number];

/** `base` is the statistics' path ("/clinics/<id>/stats" or "/admin/stats"); the CSV is
 * beside it with ".csv". Empty parameters are left out. */
export function csvUrl(base: string, table: CsvTable, params: Record<string, string | null | undefined>): string {
  const q = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) if (value) q.set(key, value);
  q.set("table", table);
  return `${API}${base}.csv?${q.toString()}`;
}

/** The file's name: "tot-by_day-2026-11-01-2026-11-30.csv". */
export function csvFileName(table: CsvTable, since: string, until: string): string {
  return `tot-${table}-${since}-${until}.csv`;
}
