/** Money typed by people, as exact integers: "3500,50", "3 500.5", "3500" roubles are
 * read as strings into kopecks (350050, 350050, 350000), never through a float. Pure,
 * tested. */

export const MAX_KOPECKS = 10_000_000_000; // the API's ceiling: 100 million roubles

export type AmountError = "money.required" | "money.invalid" | "money.negative" | "money.tooPrecise" | "money.tooLarge";

export type Parsed = { ok: true; value: number } | { ok: false; error: AmountError };

/** Spaces people put between thousands: the ordinary one, no-break and narrow no-break
 * (what Intl writes in Russian), thin, and the apostrophe. */
const GROUPING = /[\s\u00a0\u202f\u2009']/g;

/**
 * A decimal number written with "," or "." and at most `scale` digits after it, as an
 * integer of 10^-scale units: parseScaled("3500,5", 2) is 350050. Only digits are read
 * and put together as text; the result is checked to be a safe integer.
 */
export function parseScaled(text: string, scale: number, { max = Number.MAX_SAFE_INTEGER } = {}): Parsed {
  const s = text.replace(GROUPING, "").replace(/(₽|руб\.?|rub)$/i, "");
  if (s === "") return { ok: false, error: "money.required" };
  if (s.startsWith("-") || s.startsWith("−")) return { ok: false, error: "money.negative" };
  const m = /^\+?(\d*)(?:[.,](\d*))?$/.exec(s);
  if (!m || (m[1] === "" && (m[2] ?? "") === "")) return { ok: false, error: "money.invalid" };
  const whole = (m[1] ?? "").replace(/^0+(?=\d)/, "") || "0";
  const fraction = (m[2] ?? "").replace(/0+$/, "");
  if (fraction.length > scale) return { ok: false, error: "money.tooPrecise" };
  const digits = (whole + fraction.padEnd(scale, "0")).replace(/^0+(?=\d)/, "");
  if (digits.length > 15) return { ok: false, error: "money.tooLarge" };
  const value = Number(digits); // an integer of at most 15 digits: exact
  if (!Number.isSafeInteger(value) || value > max) return { ok: false, error: "money.tooLarge" };
  return { ok: true, value };
}

/** Roubles typed by a person, as kopecks. */
export function parseRoubles(text: string): Parsed {
  return parseScaled(text, 2, { max: MAX_KOPECKS });
}

/** Kopecks as the text of a form's field, in roubles: 350000 → "3500", 350050 →
 * "3500,50" (Russian) or "3500.50" (English). Integer arithmetic only. */
export function kopecksToInput(kopecks: number, locale: "ru" | "en" = "ru"): string {
  if (!Number.isSafeInteger(kopecks)) return "";
  const sign = kopecks < 0 ? "-" : "";
  const abs = Math.abs(kopecks);
  const roubles = Math.floor(abs / 100);
  const rest = abs % 100;
  return rest === 0 ? `${sign}${roubles}` : `${sign}${roubles}${locale === "ru" ? "," : "."}${String(rest).padStart(2, "0")}`;
}

/** A whole number in [min, max] typed by a person ("15", " 7 "). */
export function parseWhole(text: string, min: number, max: number): { ok: true; value: number } | { ok: false; error: "money.invalid" | "number.range" } {
  const s = text.replace(GROUPING, "");
  if (!/^\d{1,9}$/.test(s)) return { ok: false, error: "money.invalid" };
  const value = Number(s);
  if (value < min || value > max) return { ok: false, error: "number.range" };
  return { ok: true, value };
}

/** Basis points as a percent's text: 1500 → "15", 1250 → "12,5" / "12.5". */
export function basisPointsToInput(bp: number, locale: "ru" | "en" = "ru"): string {
  const whole = Math.floor(bp / 100);
  const rest = bp % 100;
  if (rest === 0) return String(whole);
  const frac = String(rest).padStart(2, "0").replace(/0$/, "");
  return `${whole}${locale === "ru" ? "," : "."}${frac}`;
}
