import { describe, expect, it } from "vitest";
import { fromForm, toForm } from "./priceForm";
import type { PriceList } from "./types";

const LIST: PriceList = {
  clinic_id: "c1",
  currency: "RUB",
  own: false,
  services: [
    { code: "home_visit", call_type: "home_visit", specialty: null, name_ru: "Вызов врача на дом", name_en: "Home visit", price_kopecks: 3_500_00 },
    { code: "ped", call_type: "home_visit", specialty: "pediatrics", name_ru: "Педиатр", name_en: "Paediatrician", price_kopecks: 4_000_50 },
  ],
  extras: [{ code: "injection", name_ru: "Инъекция", name_en: "Injection", price_kopecks: 500_00 }],
  surcharges: { emergency_kopecks: 1_750_00, urgent_kopecks: 1_050_00, night_kopecks: 0, night_from_h: 22, night_to_h: 7, free_distance_m: 10_500, per_km_kopecks: 30_05 },
  cancellation: { before_assigned_percent: 0, before_assigned_kopecks: 0, after_assigned_percent: 0, after_assigned_kopecks: 500_00, after_arrived_percent: 100, after_arrived_kopecks: 0 },
  tax: { vat_code: 1, tax_system_code: null },
  commission: { percent_bp: 1_250, fixed_kopecks: 10_00, doctor_share_bp: 6_000 },
  extras_cap_percent: 50,
  pay_at_visit_allowed: false,
  methods: ["card", "sbp", "at_visit"],
};

describe("the price list's form", () => {
  it("round-trips a list exactly, in both languages", () => {
    for (const locale of ["ru", "en"] as const) {
      const form = toForm(LIST, locale);
      expect(form.services[1]!.price).toBe(locale === "ru" ? "4000,50" : "4000.50");
      expect(form.freeKm).toBe(locale === "ru" ? "10,5" : "10.5");
      expect(form.methods).toEqual(["card", "sbp"]); // at the visit is not allowed
      const out = fromForm(form, { withCommission: true });
      if (!out.ok) throw new Error(JSON.stringify(out.errors));
      const { clinic_id: _c, currency: _cur, own: _o, ...rest } = LIST;
      expect(out.body).toEqual({ ...rest, methods: ["card", "sbp"], doctor_shares: [] });
    }
  });

  it("sends a clinic's admin's doctors' share, and keeps the contracts as loaded", () => {
    const contracts = [{ doctor_id: "doc-1", share_bp: 8_000 }];
    const form = toForm({ ...LIST, doctor_shares: contracts }, "ru");
    form.doctorShare = "55";
    form.commissionPercent = "1"; // not theirs: the body says 0 and the server keeps its own
    const out = fromForm(form);
    if (!out.ok) throw new Error(JSON.stringify(out.errors));
    expect(out.body.commission).toEqual({ percent_bp: 0, fixed_kopecks: 0, doctor_share_bp: 5_500 });
    expect(out.body.doctor_shares).toEqual(contracts);
  });

  it("reads a price typed with a comma, a point or spaces", () => {
    const form = toForm(LIST, "ru");
    form.services[0]!.price = "3 600,5";
    form.extras[0]!.price = "750.25";
    const out = fromForm(form);
    if (!out.ok) throw new Error(JSON.stringify(out.errors));
    expect(out.body.services[0]!.price_kopecks).toBe(360_050);
    expect(out.body.extras[0]!.price_kopecks).toBe(75_025);
  });

  it("says what is wrong under each field", () => {
    const form = toForm(LIST, "ru");
    form.services[0]!.price = "0";
    form.services[1]!.code = "home_visit";
    form.extras[0]!.price = "5,005";
    form.extras[0]!.name_en = " ";
    form.nightFrom = "24";
    form.beforePercent = "101";
    form.freeKm = "1,0005";
    form.capPercent = "x";
    form.methods = [];
    form.commissionPercent = "12,345";
    const out = fromForm(form, { withCommission: true });
    expect(out.ok).toBe(false);
    if (out.ok) return;
    expect(out.errors).toEqual({
      "svc-0-price": "money.positive",
      "svc-1-code": "prices.codeTaken",
      "ext-0-price": "money.tooPrecise",
      "ext-0-name_en": "prices.nameRequired",
      "price-night_from": "number.hour",
      "cancel-before_pct": "number.percent",
      "price-free_km": "prices.metrePrecision",
      "cap-percent": "number.whole",
      methods: "prices.needMethod",
      "comm-percent": "number.percentPrecision",
    });
  });

  it("needs at least one service", () => {
    const form = toForm(LIST, "en");
    form.services = [];
    const out = fromForm(form);
    expect(!out.ok && out.errors.services).toBe("prices.needService");
  });
});
