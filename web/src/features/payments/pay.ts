/** What the patient can do about a visit's payment, and what to show of it. Pure, tested. */
import type { Line, Order, Receipt } from "./types";

export type PayAction =
  | { kind: "none" }
  /** A card: open the provider's confirmation page (YooKassa's, or the sandbox's here). */
  | { kind: "card"; url: string; local: boolean }
  /** SBP on a phone: a link that opens the bank's app. */
  | { kind: "sbp-link"; url: string; local: boolean }
  /** SBP on a desktop: a QR code of the link, for the phone's camera (and the link). */
  | { kind: "sbp-qr"; url: string; local: boolean }
  /** No link to confirm now, but a new one can be asked for (the last one expired or failed). */
  | { kind: "renew" };

/** A link the app may open: a path of this site, or http(s) elsewhere; never javascript:. */
export function safeUrl(url: string | null | undefined, origin: string): { url: string; local: boolean } | null {
  if (!url) return null;
  if (url.startsWith("/") && !url.startsWith("//")) return { url: origin + url, local: true };
  try {
    const u = new URL(url);
    if (u.protocol !== "https:" && u.protocol !== "http:") return null;
    return { url: u.toString(), local: u.origin === origin };
  } catch {
    return null;
  }
}

/** The sandbox's own page within this app (/pay/sandbox/<id>), or null. */
export function localPath(url: string, origin: string): string | null {
  return url.startsWith(`${origin}/`) ? url.slice(origin.length) : null;
}

export function payAction(order: Order | null, { phone, origin }: { phone: boolean; origin: string }): PayAction {
  if (!order || order.method === "at_visit") return { kind: "none" };
  const p = order.payable;
  if (p) {
    const link = safeUrl(p.confirmation_url, origin);
    if (!link) return { kind: "none" };
    if (p.method === "sbp") return { kind: phone ? "sbp-link" : "sbp-qr", ...link };
    return { kind: "card", ...link };
  }
  if (order.status === "awaiting_payment" || order.status === "failed") return { kind: "renew" };
  return { kind: "none" };
}

/** Whether the order may still change by itself (worth asking again in a few seconds). */
export function settling(order: Order | null): boolean {
  if (!order) return false;
  if (["quoted", "awaiting_payment", "held"].includes(order.status)) return true;
  return order.payments.some((p) => p.status === "pending") || order.refunds.some((r) => r.status === "pending");
}

export interface ShownReceipt {
  id: string;
  kind: "payment" | "refund";
  receipt: Receipt;
}

/** The receipts to show: of each captured payment, and of each refund. */
export function receipts(order: Order | null): ShownReceipt[] {
  if (!order) return [];
  const out: ShownReceipt[] = [];
  for (const p of order.payments) {
    if (p.receipt && p.status === "succeeded") out.push({ id: p.payment_id, kind: "payment", receipt: p.receipt });
  }
  for (const r of order.refunds) {
    if (r.receipt && r.status !== "canceled") out.push({ id: r.refund_id, kind: "refund", receipt: r.receipt });
  }
  return out;
}

export function lineName(line: { name_ru: string; name_en: string }, locale: "ru" | "en"): string {
  return locale === "ru" ? line.name_ru : line.name_en || line.name_ru;
}

/** The amount the visit costs now: the final one once known, else the quote. */
export function totalKopecks(order: Order): number {
  return order.final_kopecks ?? order.quote_kopecks;
}

export function sumLines(lines: Line[]): number {
  return lines.reduce((sum, l) => sum + l.amount_kopecks, 0);
}

/** The phone's layout (a narrow screen): SBP opens the bank's app by a link there; a
 * wider screen shows the link as a QR code for the phone. */
export const PHONE_QUERY = "(max-width: 760px)";
