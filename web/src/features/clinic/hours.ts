/** Opening hours as a week of rows (pure, tested): the form's rows and the API's list. */
import type { OpeningHours } from "./api";

export interface DayRow {
  weekday: number;
  open: boolean;
  opens: string;
  closes: string;
}

export function toRows(hours: OpeningHours[]): DayRow[] {
  return [0, 1, 2, 3, 4, 5, 6].map((weekday) => {
    const h = hours.find((x) => x.weekday === weekday);
    return h ? { weekday, open: true, opens: h.opens, closes: h.closes } : { weekday, open: false, opens: "09:00", closes: "18:00" };
  });
}

const HHMM = /^([01]\d|2[0-3]):[0-5]\d$/;

/** The rows as the API's list; the weekdays whose times are wrong (not HH:MM, or the
 * same opening and closing time) in `bad`. A closing time before the opening one means
 * past midnight, which is allowed. */
export function fromRows(rows: DayRow[]): { hours: OpeningHours[]; bad: number[] } {
  const bad: number[] = [];
  const hours: OpeningHours[] = [];
  for (const r of rows) {
    if (!r.open) continue;
    if (!HHMM.test(r.opens) || !HHMM.test(r.closes) || r.opens === r.closes) bad.push(r.weekday);
    else hours.push({ weekday: r.weekday, opens: r.opens, closes: r.closes });
  }
  return { hours, bad };
}
