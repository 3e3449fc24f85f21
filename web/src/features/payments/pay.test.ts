import { encode } from "uqr";
import { describe, expect, it } from "vitest";
import { localPath, payAction, receipts, safeUrl, settling, totalKopecks } from "./pay";
import { qrPath } from "./SbpQr";
import type { Order, Payment } from "./types";

const ORIGIN = "http://127.0.0.1:8000";

const payment = (patch: Partial<Payment> = {}): Payment => ({
  payment_id: "pay-1",
  purpose: "visit",
  method: "card",
  status: "pending",
  amount_kopecks: 5_250_00,
  captured_kopecks: 0,
  refunded_kopecks: 0,
  created_at: "2026-12-01T10:00:00Z",
  expires_at: null,
  confirmation_url: "/pay/sandbox/p-1",
  confirmation_token: null,
  receipt: { items: [{ description: "Вызов", quantity: 1, amount_kopecks: 3_500_00, vat_code: 1, payment_mode: "full_payment", payment_subject: "service" }], total_kopecks: 3_500_00, customer_email: "a@b.c", customer_phone: null },
  ...patch,
});

const order = (patch: Partial<Order> = {}): Order => ({
  booking_id: "b1",
  status: "awaiting_payment",
  method: "card",
  currency: "RUB",
  quote: [{ kind: "service", code: "home_visit", name_ru: "Вызов", name_en: "Visit", amount_kopecks: 3_500_00, reason: null }],
  quote_kopecks: 3_500_00,
  extras_cap_kopecks: 1_750_00,
  extras: [],
  final_kopecks: null,
  payments: [],
  refunds: [],
  payable: null,
  ...patch,
});

describe("payAction", () => {
  it("opens a card's confirmation page, in the app when it is the sandbox's", () => {
    const a = payAction(order({ payable: payment() }), { phone: true, origin: ORIGIN });
    expect(a).toEqual({ kind: "card", url: `${ORIGIN}/pay/sandbox/p-1`, local: true });
    expect(localPath(`${ORIGIN}/pay/sandbox/p-1`, ORIGIN)).toBe("/pay/sandbox/p-1");
    const yk = payAction(order({ payable: payment({ confirmation_url: "https://yoomoney.ru/checkout/payments/v2/contract?orderId=1" }) }), { phone: false, origin: ORIGIN });
    expect(yk).toMatchObject({ kind: "card", local: false });
    expect(localPath((yk as { url: string }).url, ORIGIN)).toBeNull();
  });

  it("gives SBP a link on a phone and a QR code on a desktop", () => {
    const sbp = order({ method: "sbp", payable: payment({ method: "sbp", confirmation_url: "https://qr.nspk.ru/AS1000" }) });
    expect(payAction(sbp, { phone: true, origin: ORIGIN })).toEqual({ kind: "sbp-link", url: "https://qr.nspk.ru/AS1000", local: false });
    expect(payAction(sbp, { phone: false, origin: ORIGIN })).toEqual({ kind: "sbp-qr", url: "https://qr.nspk.ru/AS1000", local: false });
  });

  it("offers a new link when the last one expired or failed, and nothing at the door", () => {
    expect(payAction(order(), { phone: true, origin: ORIGIN }).kind).toBe("renew");
    expect(payAction(order({ status: "failed" }), { phone: true, origin: ORIGIN }).kind).toBe("renew");
    expect(payAction(order({ status: "held" }), { phone: true, origin: ORIGIN }).kind).toBe("none");
    expect(payAction(order({ status: "paid" }), { phone: true, origin: ORIGIN }).kind).toBe("none");
    expect(payAction(order({ method: "at_visit", status: "pay_at_visit" }), { phone: true, origin: ORIGIN }).kind).toBe("none");
    expect(payAction(null, { phone: true, origin: ORIGIN }).kind).toBe("none");
  });

  it("never opens a script or a protocol-relative link", () => {
    expect(safeUrl("javascript:alert(1)", ORIGIN)).toBeNull();
    expect(safeUrl("data:text/html,x", ORIGIN)).toBeNull();
    expect(safeUrl("//evil.example/x", ORIGIN)).toBeNull();
    expect(safeUrl("not a url", ORIGIN)).toBeNull();
    expect(payAction(order({ payable: payment({ confirmation_url: "javascript:alert(1)" }) }), { phone: true, origin: ORIGIN }).kind).toBe("none");
  });
});

describe("what is shown", () => {
  it("shows the receipts of captured payments and of refunds only", () => {
    const paid = payment({ status: "succeeded", captured_kopecks: 4_000_00 });
    const o = order({
      status: "paid",
      final_kopecks: 4_000_00,
      payments: [payment({ payment_id: "old", status: "canceled" }), paid],
      refunds: [{ refund_id: "r1", payment_id: "pay-1", amount_kopecks: 500_00, status: "succeeded", reason: "x", created_at: "2026-12-01T11:00:00Z", receipt: paid.receipt }],
    });
    expect(receipts(o).map((r) => [r.kind, r.id])).toEqual([
      ["payment", "pay-1"],
      ["refund", "r1"],
    ]);
    expect(totalKopecks(o)).toBe(4_000_00);
    expect(totalKopecks(order())).toBe(3_500_00);
  });

  it("keeps asking while the money is on its way, and stops once settled", () => {
    expect(settling(order({ status: "held" }))).toBe(true);
    expect(settling(order({ status: "paid" }))).toBe(false);
    expect(settling(order({ status: "paid", refunds: [{ refund_id: "r", payment_id: "p", amount_kopecks: 1, status: "pending", reason: "x", created_at: "", receipt: null }] }))).toBe(true);
    expect(settling(order({ status: "cancelled" }))).toBe(false);
  });
});

describe("the QR code", () => {
  it("draws one unit square per dark module of the encoded link", () => {
    const url = "https://qr.nspk.ru/AS10003P3RH0LJ2A9ENIKEWF6QFNFBPQ?type=02&bank=100000000111&sum=525000";
    const qr = encode(url, { ecc: "M", border: 2 });
    const dark = qr.data.flat().filter(Boolean).length;
    const path = qrPath(qr.data);
    expect(path.match(/M/g)?.length).toBe(dark);
    expect(qr.size).toBeGreaterThanOrEqual(25 + 4); // version 2 or more, with the border
    // the finder pattern's top-left corner is dark, inside the two-module border
    expect(path.startsWith("M2 2h1v1h-1z")).toBe(true);
  });
});
