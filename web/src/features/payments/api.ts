/** The payments API (api/routes/payments.py). */
import { api } from "../../lib/http";
import type { Page } from "../clinic/cursorList";
import type { AdminPayment, AdminPaymentPage, Earnings, Finance, Order, PriceList, PriceListBody, Refund } from "./types";

const enc = encodeURIComponent;

export const paymentsApi = {
  order: (bookingId: string, signal?: AbortSignal) => api<Order>(`/bookings/${enc(bookingId)}/payment`, { signal }),
  /** The payment to confirm now (a new one when the last link expired). */
  pay: (bookingId: string, confirmation: "redirect" | "embedded" = "redirect") =>
    api<Order>(`/bookings/${enc(bookingId)}/payment`, { method: "POST", body: { confirmation } }),
  /** The sandbox provider's payment page: pay or decline. */
  sandboxConfirm: (paymentId: string, pay: boolean) => api<Order>(`/payments/sandbox/${enc(paymentId)}/confirm`, { method: "POST", body: { pay } }),
  /** A clinic's list (its own, or the platform's default); null: the platform's. */
  prices: (clinicId: string | null) => api<PriceList>(clinicId ? `/clinics/${enc(clinicId)}/prices` : "/prices"),
  savePrices: (clinicId: string | null, body: PriceListBody) =>
    api<PriceList>(clinicId ? `/clinics/${enc(clinicId)}/prices` : "/admin/prices", { method: "PUT", body }),
  finance: (base: string, since?: string, until?: string) => {
    const q = new URLSearchParams();
    if (since) q.set("since", since);
    if (until) q.set("until", until);
    const s = q.toString();
    return api<Finance>(s ? `${base}?${s}` : base);
  },
  /** Admins: payments, newest first, as a cursor page. */
  payments: async (query: string): Promise<Page<AdminPayment>> => {
    const page = await api<AdminPaymentPage>(`/admin/payments?${query}`);
    return { items: page?.payments ?? [], next_cursor: page?.next_cursor ?? null };
  },
  refunds: (paymentId: string) => api<Refund[]>(`/admin/payments/${enc(paymentId)}/refunds`),
  refund: (paymentId: string, amountKopecks: number, reason: string) =>
    api<Refund>(`/admin/payments/${enc(paymentId)}/refunds`, { method: "POST", body: { amount_kopecks: amountKopecks, reason } }),
  earnings: () => api<Earnings>("/doctors/me/earnings"),
};

/** The finance report's paths: a clinic's, or the platform's (admins). */
export function financeBase(clinicId: string | null): string {
  return clinicId ? `/clinics/${enc(clinicId)}/finance` : "/admin/finance";
}

/** The CSV beside the report, for the same period, in the reader's language. */
export function financeCsvUrl(base: string, since: string, until: string, lang: "ru" | "en"): string {
  const q = new URLSearchParams();
  if (since) q.set("since", since);
  if (until) q.set("until", until);
  q.set("lang", lang);
  return `${base}.csv?${q.toString()}`;
}
