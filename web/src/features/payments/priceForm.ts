/** The price list's form: every amount as the text a person types (roubles, a percent,
 * kilometres) and back to the API's integers exactly (kopecks, basis points, metres).
 * Each problem is keyed by the id of the field it belongs to. Pure, tested. */
import type { MessageKey } from "../../i18n";
import { basisPointsToInput, kopecksToInput, parseRoubles, parseScaled, parseWhole } from "./money";
import type { DoctorShare, Method, PriceList, PriceListBody } from "./types";

export interface ServiceRow {
  key: string;
  code: string;
  call_type: string;
  specialty: string;
  name_ru: string;
  name_en: string;
  price: string;
}

export interface ExtraRow {
  key: string;
  code: string;
  name_ru: string;
  name_en: string;
  price: string;
}

export interface PriceForm {
  services: ServiceRow[];
  extras: ExtraRow[];
  emergency: string;
  urgent: string;
  night: string;
  nightFrom: string;
  nightTo: string;
  freeKm: string;
  perKm: string;
  beforePercent: string;
  before: string;
  assignedPercent: string;
  assigned: string;
  arrivedPercent: string;
  arrived: string;
  vatCode: string;
  taxSystem: string;
  capPercent: string;
  methods: Method[];
  commissionPercent: string;
  commissionFixed: string;
  doctorShare: string;
  /** Kept as loaded: the per-doctor contracts are set through the API. */
  doctorShares: DoctorShare[];
}

let counter = 0;
export function rowKey(): string {
  counter += 1;
  return `r${counter}`;
}

export function toForm(pl: PriceList, locale: "ru" | "en"): PriceForm {
  const rub = (k: number) => kopecksToInput(k, locale);
  const km = (m: number) => {
    const whole = Math.floor(m / 1000);
    const rest = m % 1000;
    return rest === 0 ? String(whole) : `${whole}${locale === "ru" ? "," : "."}${String(rest).padStart(3, "0").replace(/0+$/, "")}`;
  };
  return {
    services: pl.services.map((s) => ({ key: rowKey(), code: s.code, call_type: s.call_type, specialty: s.specialty ?? "", name_ru: s.name_ru, name_en: s.name_en, price: rub(s.price_kopecks) })),
    extras: pl.extras.map((e) => ({ key: rowKey(), code: e.code, name_ru: e.name_ru, name_en: e.name_en, price: rub(e.price_kopecks) })),
    emergency: rub(pl.surcharges.emergency_kopecks),
    urgent: rub(pl.surcharges.urgent_kopecks),
    night: rub(pl.surcharges.night_kopecks),
    nightFrom: String(pl.surcharges.night_from_h),
    nightTo: String(pl.surcharges.night_to_h),
    freeKm: km(pl.surcharges.free_distance_m),
    perKm: rub(pl.surcharges.per_km_kopecks),
    beforePercent: String(pl.cancellation.before_assigned_percent),
    before: rub(pl.cancellation.before_assigned_kopecks),
    assignedPercent: String(pl.cancellation.after_assigned_percent),
    assigned: rub(pl.cancellation.after_assigned_kopecks),
    arrivedPercent: String(pl.cancellation.after_arrived_percent),
    arrived: rub(pl.cancellation.after_arrived_kopecks),
    vatCode: String(pl.tax.vat_code),
    taxSystem: pl.tax.tax_system_code === null ? "" : String(pl.tax.tax_system_code),
    capPercent: String(pl.extras_cap_percent),
    // "At the visit" is one of the ways only where the clinic allows it.
    methods: pl.methods.filter((m) => m !== "at_visit" || pl.pay_at_visit_allowed),
    commissionPercent: basisPointsToInput(pl.commission.percent_bp, locale),
    commissionFixed: rub(pl.commission.fixed_kopecks),
    doctorShare: basisPointsToInput(pl.commission.doctor_share_bp, locale),
    doctorShares: pl.doctor_shares ?? [],
  };
}

export type FormErrors = Record<string, MessageKey>;

const CODE = /^[a-z0-9_-]{1,40}$/;
const SLUG = /^[a-z][a-z_]{0,63}$/;

export function fromForm(form: PriceForm, { withCommission = false } = {}): { ok: true; body: PriceListBody } | { ok: false; errors: FormErrors } {
  const errors: FormErrors = {};
  const money = (id: string, text: string, { positive = false } = {}): number => {
    const p = parseRoubles(text);
    if (!p.ok) {
      errors[id] = p.error;
      return 0;
    }
    if (positive && p.value === 0) errors[id] = "money.positive";
    return p.value;
  };
  const whole = (id: string, text: string, min: number, max: number): number => {
    const p = parseWhole(text, min, max);
    if (!p.ok) errors[id] = p.error === "number.range" ? (max === 100 ? "number.percent" : max === 23 ? "number.hour" : "number.range") : "number.whole";
    return p.ok ? p.value : 0;
  };
  const bp = (id: string, text: string): number => {
    const p = parseScaled(text, 2, { max: 10_000 });
    if (!p.ok) {
      errors[id] = p.error === "money.tooLarge" ? "number.percent" : p.error === "money.tooPrecise" ? "number.percentPrecision" : "number.percentInvalid";
      return 0;
    }
    return p.value;
  };
  const name = (id: string, text: string): string => {
    const s = text.trim();
    if (!s) errors[id] = "prices.nameRequired";
    else if (s.length > 128) errors[id] = "validation.tooLong";
    return s;
  };
  const code = (id: string, text: string, seen: Set<string>): string => {
    const s = text.trim();
    if (!CODE.test(s)) errors[id] = "prices.codeInvalid";
    else if (seen.has(s)) errors[id] = "prices.codeTaken";
    seen.add(s);
    return s;
  };

  if (form.services.length === 0) errors["services"] = "prices.needService";
  const serviceCodes = new Set<string>();
  const services = form.services.map((s, i) => {
    const specialty = s.specialty.trim();
    if (!SLUG.test(s.call_type)) errors[`svc-${i}-call_type`] = "prices.slugInvalid";
    if (specialty && !SLUG.test(specialty)) errors[`svc-${i}-specialty`] = "prices.slugInvalid";
    return {
      code: code(`svc-${i}-code`, s.code, serviceCodes),
      call_type: s.call_type,
      specialty: specialty || null,
      name_ru: name(`svc-${i}-name_ru`, s.name_ru),
      name_en: name(`svc-${i}-name_en`, s.name_en),
      price_kopecks: money(`svc-${i}-price`, s.price, { positive: true }),
    };
  });
  const extraCodes = new Set<string>();
  const extras = form.extras.map((e, i) => ({
    code: code(`ext-${i}-code`, e.code, extraCodes),
    name_ru: name(`ext-${i}-name_ru`, e.name_ru),
    name_en: name(`ext-${i}-name_en`, e.name_en),
    price_kopecks: money(`ext-${i}-price`, e.price, { positive: true }),
  }));
  const freeKm = parseScaled(form.freeKm, 3, { max: 1_000_000 });
  if (!freeKm.ok) errors["price-free_km"] = freeKm.error === "money.tooLarge" ? "number.range" : freeKm.error === "money.tooPrecise" ? "prices.metrePrecision" : "number.invalid";
  const taxSystem = form.taxSystem === "" ? null : whole("tax-system", form.taxSystem, 1, 6);
  if (form.methods.length === 0) errors["methods"] = "prices.needMethod";

  const body: PriceListBody = {
    services,
    extras,
    surcharges: {
      emergency_kopecks: money("price-emergency", form.emergency),
      urgent_kopecks: money("price-urgent", form.urgent),
      night_kopecks: money("price-night", form.night),
      night_from_h: whole("price-night_from", form.nightFrom, 0, 23),
      night_to_h: whole("price-night_to", form.nightTo, 0, 23),
      free_distance_m: freeKm.ok ? freeKm.value : 0,
      per_km_kopecks: money("price-per_km", form.perKm),
    },
    cancellation: {
      before_assigned_percent: whole("cancel-before_pct", form.beforePercent, 0, 100),
      before_assigned_kopecks: money("cancel-before", form.before),
      after_assigned_percent: whole("cancel-assigned_pct", form.assignedPercent, 0, 100),
      after_assigned_kopecks: money("cancel-assigned", form.assigned),
      after_arrived_percent: whole("cancel-arrived_pct", form.arrivedPercent, 0, 100),
      after_arrived_kopecks: money("cancel-arrived", form.arrived),
    },
    tax: { vat_code: whole("tax-vat", form.vatCode, 1, 12), tax_system_code: taxSystem },
    extras_cap_percent: whole("cap-percent", form.capPercent, 0, 100),
    pay_at_visit_allowed: form.methods.includes("at_visit"),
    methods: (["card", "sbp", "at_visit"] as Method[]).filter((m) => form.methods.includes(m)),
  };
  // A clinic's admin sets the doctors' share (their contracts); the platform's percent
  // and fixed part are kept by the server as they are unless an admin sends them.
  body.commission = {
    percent_bp: withCommission ? bp("comm-percent", form.commissionPercent) : 0,
    fixed_kopecks: withCommission ? money("comm-fixed", form.commissionFixed) : 0,
    doctor_share_bp: bp("comm-doctor", form.doctorShare),
  };
  body.doctor_shares = form.doctorShares;
  return Object.keys(errors).length ? { ok: false, errors } : { ok: true, body };
}
