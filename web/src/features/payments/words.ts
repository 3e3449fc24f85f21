/** The payments' states and methods in words. */
import type { MessageKey } from "../../i18n";
import type { Method, OrderStatus, ProviderStatus, RefundStatus } from "./types";

export const ORDER_STATUS: Record<OrderStatus, MessageKey> = {
  quoted: "pay.statusQuoted",
  awaiting_payment: "pay.statusAwaiting",
  held: "pay.statusHeld",
  paid: "pay.statusPaid",
  pay_at_visit: "pay.statusAtVisit",
  cancelled: "pay.statusCancelled",
  refunded: "pay.statusRefunded",
  failed: "pay.statusFailed",
};

/** What "quoted" means depends on how the patient pays. */
export const QUOTED_BY_METHOD: Record<Method, MessageKey> = {
  card: "pay.quotedCard",
  sbp: "pay.quotedSbp",
  at_visit: "pay.quotedAtVisit",
};

export const METHOD_WORD: Record<Method, MessageKey> = {
  card: "pay.methodCard",
  sbp: "pay.methodSbp",
  at_visit: "pay.methodAtVisit",
};

export const METHOD_HINT: Record<Method, MessageKey> = {
  card: "pay.methodCardHint",
  sbp: "pay.methodSbpHint",
  at_visit: "pay.methodAtVisitHint",
};

export const PAYMENT_STATUS: Record<ProviderStatus, MessageKey> = {
  pending: "pay.paymentPending",
  waiting_for_capture: "pay.paymentHeld",
  succeeded: "pay.paymentSucceeded",
  canceled: "pay.paymentCanceled",
};

export const REFUND_STATUS: Record<RefundStatus, MessageKey> = {
  pending: "pay.refundPending",
  succeeded: "pay.refundSucceeded",
  canceled: "pay.refundCanceled",
};
