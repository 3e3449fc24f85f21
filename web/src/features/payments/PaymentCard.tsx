/** The visit's payment on the patient's visit screen: its state in plain words, "Pay"
 * when there is something to confirm (a card: the provider's page; SBP: the bank's app
 * by a link on a phone, a QR code of it on a desktop), the price (quote, extras, total),
 * the receipts and the refunds. */
import type { ComponentType } from "preact";
import { useEffect, useState } from "preact/hooks";
import { errorText } from "../../components/errors";
import { Alert, Button } from "../../components/ui";
import { useLocale, useT } from "../../i18n";
import { formatDateTime, formatMoney } from "../../i18n/format";
import { ApiError } from "../../lib/http";
import { navigate } from "../../lib/router";
import { paymentsApi } from "./api";
import { PHONE_QUERY, lineName, localPath, payAction, receipts, settling, totalKopecks } from "./pay";
import { ReceiptView } from "./Receipt";
import type { Order } from "./types";
import { METHOD_WORD, ORDER_STATUS, QUOTED_BY_METHOD, REFUND_STATUS } from "./words";

const POLL_MS = 3000;

function usePhone(): boolean {
  const query = typeof window !== "undefined" && window.matchMedia ? window.matchMedia(PHONE_QUERY) : null;
  const [phone, setPhone] = useState(query?.matches ?? true);
  useEffect(() => {
    if (!query) return;
    const on = () => setPhone(query.matches);
    query.addEventListener("change", on);
    return () => query.removeEventListener("change", on);
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, []);
  return phone;
}

type QrComponent = ComponentType<{ url: string; label: string; id?: string }>;

export function PaymentCard({ bookingId, bookingStatus }: { bookingId: string; bookingStatus: string }) {
  const t = useT();
  const locale = useLocale();
  const phone = usePhone();
  const [order, setOrder] = useState<Order | null>(null);
  const [absent, setAbsent] = useState(false);
  const [failure, setFailure] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [Qr, setQr] = useState<QrComponent | null>(null);
  const [tick, setTick] = useState(0);

  // Asked again when the visit's status changes, and every few seconds while the money
  // is on its way (a hold being made, a link being paid, a refund going through).
  useEffect(() => {
    const controller = new AbortController();
    paymentsApi
      .order(bookingId, controller.signal)
      .then((o) => {
        setOrder(o);
        setAbsent(false);
      })
      .catch((exc: unknown) => {
        if (controller.signal.aborted) return;
        if (exc instanceof ApiError && exc.status === 404) setAbsent(true);
        else setFailure(errorText(t, exc));
      });
    return () => controller.abort();
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [bookingId, bookingStatus, tick]);
  const waiting = settling(order) && (order?.status !== "quoted" || !["requested", "scheduled", "searching", "offered"].includes(bookingStatus));
  useEffect(() => {
    if (!waiting) return;
    const timer = setInterval(() => {
      if (document.visibilityState !== "hidden") setTick((n) => n + 1);
    }, POLL_MS);
    return () => clearInterval(timer);
  }, [waiting]);

  const origin = typeof window === "undefined" ? "" : window.location.origin;
  const action = payAction(order, { phone, origin });
  useEffect(() => {
    if (action.kind !== "sbp-qr" || Qr) return;
    void import("./SbpQr").then((m) => setQr(() => m.default));
  }, [action.kind, Qr]);

  if (absent) return null;
  if (!order) {
    return (
      <section class="card" aria-labelledby="payment-title" id="payment">
        <h2 id="payment-title">{t("pay.title")}</h2>
        {failure ? <Alert>{failure}</Alert> : <p class="muted">{t("app.loading")}</p>}
      </section>
    );
  }
  const money = (k: number) => formatMoney(k, order.currency, locale);
  const amount = order.payable ? money(order.payable.amount_kopecks) : "";
  const renew = async () => {
    setFailure(null);
    setBusy(true);
    try {
      setOrder(await paymentsApi.pay(bookingId));
    } catch (exc) {
      setFailure(errorText(t, exc));
    } finally {
      setBusy(false);
    }
  };
  const open = (event: MouseEvent, url: string) => {
    const path = localPath(url, origin);
    if (!path) return; // the provider's page: the browser goes there
    event.preventDefault();
    navigate(path);
  };
  const shown = receipts(order);
  const completed = bookingStatus === "completed";

  return (
    <section class="card payment" aria-labelledby="payment-title" id="payment" data-status={order.status} data-method={order.method}>
      <h2 id="payment-title">{t("pay.title")}</h2>
      <p class="pay-status" id="payment-status" data-status={order.status} role="status">
        <b>{t(ORDER_STATUS[order.status])}</b>
        {order.status === "quoted" && <> {t(QUOTED_BY_METHOD[order.method])}</>}
      </p>
      <p class="muted small" id="payment-method">
        {t("pay.methodIs", { method: t(METHOD_WORD[order.method]) })}
      </p>

      {action.kind === "card" && (
        <p>
          <a class="btn primary" id="pay-now" href={action.url} onClick={(e) => open(e as unknown as MouseEvent, action.url)}>
            {t("pay.payCard", { amount })}
          </a>
        </p>
      )}
      {action.kind === "sbp-link" && (
        <p>
          <a class="btn primary" id="pay-now" href={action.url} onClick={(e) => open(e as unknown as MouseEvent, action.url)}>
            {t("pay.openBank", { amount })}
          </a>
        </p>
      )}
      {action.kind === "sbp-qr" && (
        <div class="sbp" id="pay-sbp">
          <p>{t("pay.scanQr", { amount })}</p>
          {Qr ? <Qr url={action.url} label={t("pay.qrLabel")} /> : <p class="muted">{t("app.loading")}</p>}
          <p class="small">
            <a id="pay-now" href={action.url} onClick={(e) => open(e as unknown as MouseEvent, action.url)}>
              {t("pay.orOpenLink")}
            </a>
          </p>
        </div>
      )}
      {action.kind === "renew" && (
        <p>
          <Button kind="primary" id="pay-renew" busy={busy} onClick={() => void renew()}>
            {t("pay.renew")}
          </Button>
        </p>
      )}
      {order.payable?.expires_at && (
        <p class="hint" id="pay-expires">
          {t("pay.linkUntil", { at: formatDateTime(order.payable.expires_at, locale) })}
        </p>
      )}
      <Alert id="payment-error">{failure}</Alert>

      <table class="lines" id="payment-lines">
        <caption>{t("pay.price")}</caption>
        <tbody>
          {order.quote.map((l, i) => (
            <tr key={`q${i}`} data-kind={l.kind}>
              <td>{lineName(l, locale)}</td>
              <td class="num">{money(l.amount_kopecks)}</td>
            </tr>
          ))}
          {order.extras.map((l, i) => (
            <tr key={`e${i}`} data-kind="extra" class="extra">
              <td>
                {lineName(l, locale)}
                {l.reason && <span class="reason"> — «{l.reason}»</span>}
              </td>
              <td class="num">{money(l.amount_kopecks)}</td>
            </tr>
          ))}
        </tbody>
        <tfoot>
          <tr>
            <th scope="row">{order.final_kopecks !== null ? t("pay.finalTotal") : t("pay.quoteTotal")}</th>
            <td class="num" id="payment-total">
              {money(totalKopecks(order))}
            </td>
          </tr>
        </tfoot>
      </table>
      {!completed && order.extras_cap_kopecks > 0 && (
        <p class="hint" id="payment-cap">
          {t("pay.capAccepted", { cap: money(order.extras_cap_kopecks) })}
        </p>
      )}

      {shown.length > 0 && (
        <div id="receipts">
          <h3>{t("pay.receipts")}</h3>
          {shown.map((r) => (
            <ReceiptView
              key={r.id}
              id={`receipt-${r.id}`}
              receipt={r.receipt}
              currency={order.currency}
              title={r.kind === "payment" ? t("pay.receiptPayment") : t("pay.receiptRefund")}
            />
          ))}
        </div>
      )}

      {order.refunds.length > 0 && (
        <div id="refunds">
          <h3>{t("pay.refunds")}</h3>
          <ul class="plain">
            {order.refunds.map((r) => (
              <li key={r.refund_id} data-status={r.status}>
                <b>{money(r.amount_kopecks)}</b> · {t(REFUND_STATUS[r.status])} · {formatDateTime(r.created_at, locale)}
                {r.reason && <span class="reason"> — «{r.reason}»</span>}
              </li>
            ))}
          </ul>
        </div>
      )}
    </section>
  );
}
