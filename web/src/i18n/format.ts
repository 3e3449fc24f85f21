/** Numbers, money, dates, times, durations and distances for the locale: in Russian ₽
 * after the amount and the 24-hour clock. */
import { translate, type Locale } from "./index";

const cache = new Map<string, Intl.NumberFormat | Intl.DateTimeFormat>();

function numberFormat(locale: Locale, options: Intl.NumberFormatOptions): Intl.NumberFormat {
  const id = `n${locale}${JSON.stringify(options)}`;
  let f = cache.get(id) as Intl.NumberFormat | undefined;
  if (!f) {
    f = new Intl.NumberFormat(locale === "ru" ? "ru-RU" : "en-GB", options);
    cache.set(id, f);
  }
  return f;
}

function dateFormat(locale: Locale, options: Intl.DateTimeFormatOptions): Intl.DateTimeFormat {
  const id = `d${locale}${JSON.stringify(options)}`;
  let f = cache.get(id) as Intl.DateTimeFormat | undefined;
  if (!f) {
    // Russian reads the 24-hour clock; English here too (en-GB), never AM/PM surprises.
    f = new Intl.DateTimeFormat(locale === "ru" ? "ru-RU" : "en-GB", { hourCycle: "h23", ...options });
    cache.set(id, f);
  }
  return f;
}

/** Whole roubles unless there are kopecks: "3 500 ₽", "₽3,500". */
/** Money arrives as an integer number of kopecks (`*_kopecks`); shown in roubles. */
export function formatMoney(kopecks: number | null | undefined, currency: string, locale: Locale): string {
  if (kopecks === null || kopecks === undefined || !Number.isInteger(kopecks)) return "—";
  const whole = kopecks % 100 === 0;
  const amount = kopecks / 100;
  return numberFormat(locale, {
    style: "currency",
    currency: currency || "RUB",
    currencyDisplay: "narrowSymbol",
    minimumFractionDigits: whole ? 0 : 2,
    maximumFractionDigits: whole ? 0 : 2,
  }).format(amount);
}

function toDate(value: string | number | Date): Date {
  return value instanceof Date ? value : new Date(value);
}

export function formatTime(value: string | number | Date | null | undefined, locale: Locale): string {
  if (value === null || value === undefined) return "—";
  const d = toDate(value);
  if (Number.isNaN(d.getTime())) return "—";
  return dateFormat(locale, { hour: "2-digit", minute: "2-digit" }).format(d);
}

export function formatDate(value: string | number | Date | null | undefined, locale: Locale): string {
  if (value === null || value === undefined) return "—";
  const d = toDate(value);
  if (Number.isNaN(d.getTime())) return "—";
  return dateFormat(locale, { day: "numeric", month: "long", year: "numeric" }).format(d);
}

export function formatDateTime(value: string | number | Date | null | undefined, locale: Locale): string {
  if (value === null || value === undefined) return "—";
  const d = toDate(value);
  if (Number.isNaN(d.getTime())) return "—";
  return dateFormat(locale, { day: "numeric", month: "long", hour: "2-digit", minute: "2-digit" }).format(d);
}

/** "12 минут", "1 ч 5 мин" — rounded up to the minute; under a minute "меньше минуты". */
export function formatDuration(seconds: number | null | undefined, locale: Locale): string {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds)) return "—";
  const minutes = Math.max(0, Math.ceil(seconds / 60));
  if (seconds < 60) return translate(locale, "duration.underMinute");
  if (minutes < 60) return translate(locale, "duration.minutes", { minutes });
  return translate(locale, "duration.hoursMinutes", { hours: Math.floor(minutes / 60), minutes: minutes % 60 });
}

/** A countdown as m:ss (digits are the same in both languages). */
export function formatCountdown(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds)) return "—";
  const s = Math.max(0, Math.round(seconds));
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
}

/** "450 м", "1,2 км" / "450 m", "1.2 km". */
export function formatDistance(metres: number | null | undefined, locale: Locale): string {
  if (metres === null || metres === undefined || !Number.isFinite(metres)) return "—";
  if (metres < 1000) {
    return numberFormat(locale, { style: "unit", unit: "meter", maximumFractionDigits: 0 }).format(
      Math.round(metres / 10) * 10,
    );
  }
  return numberFormat(locale, { style: "unit", unit: "kilometer", maximumFractionDigits: 1 }).format(metres / 1000);
}

export function formatRating(rating: number | null | undefined, locale: Locale): string {
  if (rating === null || rating === undefined || !Number.isFinite(rating)) return "—";
  return numberFormat(locale, { minimumFractionDigits: 1, maximumFractionDigits: 1 }).format(rating);
}
