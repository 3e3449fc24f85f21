/** The payments API's bodies (api/payment_schemas.py). Money is always an integer number
 * of kopecks (`*_kopecks`). */

export type Method = "card" | "sbp" | "at_visit";
export const METHODS: Method[] = ["card", "sbp", "at_visit"];

export type OrderStatus = "quoted" | "awaiting_payment" | "held" | "paid" | "pay_at_visit" | "cancelled" | "refunded" | "failed";
export type ProviderStatus = "pending" | "waiting_for_capture" | "succeeded" | "canceled";
export type RefundStatus = "pending" | "succeeded" | "canceled";

export interface Line {
  kind: string;
  code: string;
  name_ru: string;
  name_en: string;
  amount_kopecks: number;
  reason: string | null;
}

export interface ReceiptItem {
  description: string;
  quantity: number;
  /** The price of one unit. */
  amount_kopecks: number;
  vat_code: number;
  payment_mode: string;
  payment_subject: string;
}

export interface Receipt {
  items: ReceiptItem[];
  total_kopecks: number;
  customer_email: string | null;
  customer_phone: string | null;
}

export interface Payment {
  payment_id: string;
  purpose: "visit" | "cancellation_fee";
  method: Method;
  status: ProviderStatus;
  amount_kopecks: number;
  captured_kopecks: number;
  refunded_kopecks: number;
  created_at: string;
  expires_at: string | null;
  confirmation_url: string | null;
  confirmation_token: string | null;
  receipt: Receipt | null;
}

export interface Refund {
  refund_id: string;
  payment_id: string;
  amount_kopecks: number;
  status: RefundStatus;
  reason: string;
  created_at: string;
  receipt: Receipt | null;
}

export interface Order {
  booking_id: string;
  status: OrderStatus;
  method: Method;
  currency: string;
  quote: Line[];
  quote_kopecks: number;
  extras_cap_kopecks: number;
  extras: Line[];
  final_kopecks: number | null;
  payments: Payment[];
  refunds: Refund[];
  payable: Payment | null;
}

export interface Service {
  code: string;
  call_type: string;
  specialty: string | null;
  name_ru: string;
  name_en: string;
  price_kopecks: number;
}

export interface Extra {
  code: string;
  name_ru: string;
  name_en: string;
  price_kopecks: number;
}

export interface Surcharges {
  emergency_kopecks: number;
  urgent_kopecks: number;
  night_kopecks: number;
  night_from_h: number;
  night_to_h: number;
  free_distance_m: number;
  per_km_kopecks: number;
}

export interface Cancellation {
  before_assigned_percent: number;
  before_assigned_kopecks: number;
  after_assigned_percent: number;
  after_assigned_kopecks: number;
  after_arrived_percent: number;
  after_arrived_kopecks: number;
}

export interface Tax {
  vat_code: number;
  tax_system_code: number | null;
}

export interface Commission {
  percent_bp: number;
  fixed_kopecks: number;
  doctor_share_bp: number;
}

export interface PriceListBody {
  services: Service[];
  extras: Extra[];
  surcharges: Surcharges;
  cancellation: Cancellation;
  tax: Tax;
  commission?: Commission | null;
  extras_cap_percent: number;
  pay_at_visit_allowed: boolean;
  methods: Method[];
  /** Per doctor, by their contract with the clinic: overrides commission.doctor_share_bp. */
  doctor_shares?: DoctorShare[];
}

export interface DoctorShare {
  doctor_id: string;
  share_bp: number;
}

export interface PriceList extends PriceListBody {
  clinic_id: string | null;
  currency: string;
  commission: Commission;
  /** false: the clinic has no list of its own (the platform's default is shown). */
  own: boolean;
}

export interface Totals {
  revenue_kopecks: number;
  commission_kopecks: number;
  refunds_kopecks: number;
  fees_kopecks: number;
  doctors_kopecks: number;
  payable_kopecks: number;
  net_kopecks: number;
  captures: number;
  refund_count: number;
}

export interface Group {
  key: string;
  totals: Totals;
}

export interface Finance {
  clinic_id: string | null;
  timezone: string;
  since: string;
  until: string;
  totals: Totals;
  by_day: Group[];
  by_month: Group[];
  by_doctor: Group[];
  by_service: Group[];
  by_clinic: Group[];
}

export interface AdminPayment extends Payment {
  booking_id: string;
  provider_payment_id: string | null;
  fee_kopecks: number;
}

export interface AdminPaymentPage {
  payments: AdminPayment[];
  next_cursor: string | null;
}

export interface VisitEarning {
  booking_id: string;
  service_code: string | null;
  at: string;
  earned_kopecks: number;
}

export interface Earnings {
  timezone: string;
  today_kopecks: number;
  week_kopecks: number;
  month_kopecks: number;
  visits: VisitEarning[];
}
