/** Payments (admins): newest first by cursor, filtered by state, booking or clinic; one
 * payment's refunds, and a refund of part or all of it with a reason (audited). What may
 * be refunded is the engine's to judge: its refusal (422, 409) is shown as it says it. */
import { useEffect, useMemo, useState } from "preact/hooks";
import { errorText } from "../../components/errors";
import { Alert, Button, Field, useFocusHeading } from "../../components/ui";
import { useLocale, useT } from "../../i18n";
import { formatDateTime, formatMoney } from "../../i18n/format";
import { useStore } from "../../lib/store";
import { createCursorList } from "../clinic/cursorList";
import { LoadMore } from "../clinic/desk";
import { paymentsApi } from "../payments/api";
import { kopecksToInput, parseRoubles } from "../payments/money";
import type { AdminPayment, ProviderStatus, Refund } from "../payments/types";
import { METHOD_WORD, PAYMENT_STATUS, REFUND_STATUS } from "../payments/words";

const STATUSES: ProviderStatus[] = ["pending", "waiting_for_capture", "succeeded", "canceled"];

export function Payments() {
  const t = useT();
  const locale = useLocale();
  useFocusHeading("admin-payments");
  const list = useMemo(() => createCursorList<AdminPayment>(paymentsApi.payments), []);
  const s = useStore(list);
  const [status, setStatus] = useState("");
  const [booking, setBooking] = useState("");
  const [selected, setSelected] = useState<string | null>(null);
  useEffect(() => {
    const timer = setTimeout(() => void list.reload({ status, booking_id: booking.trim() }), booking ? 250 : 0);
    return () => clearTimeout(timer);
  }, [list, status, booking]);
  const current = s.items.find((p) => p.payment_id === selected) ?? null;
  const money = (k: number) => formatMoney(k, "RUB", locale);

  return (
    <main id="main">
      <h1>{t("payments.title")}</h1>
      <div class="toolbar" role="search">
        <Field id="payments-status" label={t("payments.status")}>
          <select id="payments-status" value={status} onChange={(e) => setStatus(e.currentTarget.value)}>
            <option value="">{t("clinic.any")}</option>
            {STATUSES.map((st) => (
              <option key={st} value={st}>
                {t(PAYMENT_STATUS[st])}
              </option>
            ))}
          </select>
        </Field>
        <Field id="payments-booking" label={t("payments.booking")}>
          <input id="payments-booking" type="search" data-search value={booking} onInput={(e) => setBooking(e.currentTarget.value)} aria-keyshortcuts="/" />
        </Field>
      </div>
      <div class="split">
        <div>
          <div class="table-wrap">
            <table class="dense" id="payments">
              <caption class="sr-only">{t("payments.title")}</caption>
              <thead>
                <tr>
                  <th scope="col">{t("payments.created")}</th>
                  <th scope="col">{t("payments.booking")}</th>
                  <th scope="col">{t("payments.method")}</th>
                  <th scope="col">{t("payments.status")}</th>
                  <th scope="col" class="num">{t("payments.amount")}</th>
                  <th scope="col" class="num">{t("payments.captured")}</th>
                  <th scope="col" class="num">{t("payments.refunded")}</th>
                  <th scope="col">
                    <span class="sr-only">{t("prices.actions")}</span>
                  </th>
                </tr>
              </thead>
              <tbody>
                {s.items.map((p) => (
                  <tr key={p.payment_id} data-payment-id={p.payment_id} data-status={p.status} aria-selected={p.payment_id === selected ? "true" : "false"}>
                    <td>{formatDateTime(p.created_at, locale)}</td>
                    <td>
                      <code title={p.booking_id}>{p.booking_id.length > 12 ? `${p.booking_id.slice(0, 8)}…` : p.booking_id}</code>
                    </td>
                    <td>{t(METHOD_WORD[p.method])}</td>
                    <td>{t(PAYMENT_STATUS[p.status])}</td>
                    <td class="num">{money(p.amount_kopecks)}</td>
                    <td class="num">{money(p.captured_kopecks)}</td>
                    <td class="num">{money(p.refunded_kopecks)}</td>
                    <td>
                      <Button id={`payment-open-${p.payment_id}`} onClick={() => setSelected(p.payment_id)} aria-label={t("payments.openFor", { booking: p.booking_id })}>
                        {t("payments.open")}
                      </Button>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          <LoadMore list={list} id="payments" count={(n) => t("payments.shown", { count: n })} />
        </div>
        <div>
          {current ? (
            <RefundPanel
              key={current.payment_id}
              payment={current}
              onRefunded={async () => {
                const page = await paymentsApi.payments(`booking_id=${encodeURIComponent(current.booking_id)}&limit=50`);
                const fresh = page.items.find((p) => p.payment_id === current.payment_id);
                if (fresh) list.update((p) => p.payment_id === fresh.payment_id, () => fresh);
              }}
            />
          ) : (
            <p class="muted">{t("payments.pick")}</p>
          )}
        </div>
      </div>
    </main>
  );
}

function RefundPanel({ payment, onRefunded }: { payment: AdminPayment; onRefunded: () => Promise<void> }) {
  const t = useT();
  const locale = useLocale();
  const [refunds, setRefunds] = useState<Refund[] | null>(null);
  const [amount, setAmount] = useState("");
  const [reason, setReason] = useState("");
  const [errors, setErrors] = useState<{ amount?: string; reason?: string }>({});
  const [failure, setFailure] = useState<string | null>(null);
  const [done, setDone] = useState<Refund | null>(null);
  const [busy, setBusy] = useState(false);
  const refundable = Math.max(0, payment.captured_kopecks - payment.refunded_kopecks);
  const money = (k: number) => formatMoney(k, "RUB", locale);

  const load = () =>
    paymentsApi
      .refunds(payment.payment_id)
      .then(setRefunds)
      .catch((exc: unknown) => setFailure(errorText(t, exc)));
  useEffect(() => {
    void load();
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [payment.payment_id]);

  const submit = async (event: Event) => {
    event.preventDefault();
    setFailure(null);
    setDone(null);
    const parsed = parseRoubles(amount);
    const found: { amount?: string; reason?: string } = {};
    if (!parsed.ok) found.amount = t(parsed.error);
    else if (parsed.value === 0) found.amount = t("money.positive");
    if (!reason.trim()) found.reason = t("payments.reasonRequired");
    setErrors(found);
    if (found.amount) return document.getElementById("refund-amount")?.focus();
    if (found.reason) return document.getElementById("refund-reason")?.focus();
    if (!parsed.ok) return;
    setBusy(true);
    try {
      const refund = await paymentsApi.refund(payment.payment_id, parsed.value, reason.trim());
      setDone(refund);
      setAmount("");
      setReason("");
      await load();
      await onRefunded();
    } catch (exc) {
      setFailure(errorText(t, exc));
    } finally {
      setBusy(false);
    }
  };

  return (
    <section class="panel" aria-labelledby="refund-title" id="payment-panel" data-payment-id={payment.payment_id}>
      <h2 id="refund-title">{t("payments.panelTitle", { booking: payment.booking_id })}</h2>
      <dl class="details">
        <dt>{t("payments.status")}</dt>
        <dd>{t(PAYMENT_STATUS[payment.status])}</dd>
        <dt>{t("payments.captured")}</dt>
        <dd id="panel-captured">{money(payment.captured_kopecks)}</dd>
        <dt>{t("payments.refunded")}</dt>
        <dd id="panel-refunded" data-kopecks={String(payment.refunded_kopecks)}>
          {money(payment.refunded_kopecks)}
        </dd>
        <dt>{t("payments.fee")}</dt>
        <dd>{money(payment.fee_kopecks)}</dd>
        <dt>{t("payments.provider")}</dt>
        <dd>
          <code>{payment.provider_payment_id ?? "—"}</code>
        </dd>
      </dl>
      <h3>{t("payments.refundsTitle")}</h3>
      {refunds === null ? (
        <p class="muted">{t("app.loading")}</p>
      ) : refunds.length === 0 ? (
        <p class="muted" id="refunds-none">
          {t("payments.noRefunds")}
        </p>
      ) : (
        <ul class="plain" id="refunds-list">
          {refunds.map((r) => (
            <li key={r.refund_id} data-status={r.status} data-amount={String(r.amount_kopecks)}>
              <b>{money(r.amount_kopecks)}</b> · {t(REFUND_STATUS[r.status])} · {formatDateTime(r.created_at, locale)} — «{r.reason}»
            </li>
          ))}
        </ul>
      )}
      <form onSubmit={submit} noValidate id="refund-form">
        <h3>{t("payments.refund")}</h3>
        <p class="hint" id="refund-left">
          {t("payments.refundable", { amount: money(refundable) })}
        </p>
        <Field id="refund-amount" label={t("payments.refundAmount")} error={errors.amount ?? null}>
          <input
            id="refund-amount"
            inputMode="decimal"
            value={amount}
            aria-invalid={errors.amount ? "true" : undefined}
            aria-describedby={errors.amount ? "refund-amount-error" : "refund-left"}
            onInput={(e) => setAmount(e.currentTarget.value)}
          />
        </Field>
        <p>
          <Button id="refund-all" onClick={() => setAmount(kopecksToInput(refundable, locale))} disabled={refundable === 0}>
            {t("payments.refundAll")}
          </Button>
        </p>
        <Field id="refund-reason" label={t("payments.reason")} error={errors.reason ?? null} hint={t("payments.reasonHint")}>
          <textarea
            id="refund-reason"
            rows={2}
            maxLength={1000}
            value={reason}
            aria-invalid={errors.reason ? "true" : undefined}
            aria-describedby={errors.reason ? "refund-reason-error" : "refund-reason-hint"}
            onInput={(e) => setReason(e.currentTarget.value)}
          />
        </Field>
        <Alert id="refund-error">{failure}</Alert>
        {done && (
          <p class="info" role="status" id="refund-done">
            {t("payments.refundDone", { amount: money(done.amount_kopecks), status: t(REFUND_STATUS[done.status]) })}
          </p>
        )}
        <Button kind="danger" type="submit" id="refund-submit" busy={busy}>
          {t("payments.refundSubmit")}
        </Button>
      </form>
    </section>
  );
}
