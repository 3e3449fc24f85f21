/** Completing a visit: extras from the clinic's price list, each with a reason, within
 * the cap the patient accepted (what is left shown as they are ticked); the engine's
 * refusal (over the cap, an unknown code) is shown as it says it. */
import { useEffect, useMemo, useState } from "preact/hooks";
import { errorText } from "../../components/errors";
import { Alert, Button, Field } from "../../components/ui";
import { useLocale, useT } from "../../i18n";
import { formatMoney } from "../../i18n/format";
import { ApiError } from "../../lib/http";
import { useStore } from "../../lib/store";
import { session$ } from "../auth/session";
import type { Booking } from "../patient/types";
import { paymentsApi } from "../payments/api";
import { lineName } from "../payments/pay";
import type { Order, PriceList } from "../payments/types";
import { checkExtras, fits, type ExtraDraft } from "./extras";
import { progress } from "./store";

export function CompleteVisit({ booking, onDone }: { booking: Booking; onDone: () => Promise<void> }) {
  const t = useT();
  const locale = useLocale();
  const session = useStore(session$);
  const [order, setOrder] = useState<Order | null | "none">(null);
  const [prices, setPrices] = useState<PriceList | null>(null);
  const [drafts, setDrafts] = useState<ExtraDraft[]>([]);
  const [tried, setTried] = useState(false);
  const [failure, setFailure] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const ownClinic = session.status === "signedIn" ? ((session.user as { clinic_id?: string | null }).clinic_id ?? null) : null;
  const clinicId = booking.clinic_id ?? ownClinic;

  useEffect(() => {
    paymentsApi
      .order(booking.id)
      .then(setOrder)
      .catch((exc: unknown) => setOrder(exc instanceof ApiError && exc.status === 404 ? "none" : null));
    paymentsApi
      .prices(clinicId)
      .then((list) => {
        setPrices(list);
        setDrafts(list.extras.map((e) => ({ code: e.code, chosen: false, reason: "" })));
      })
      .catch(() => setPrices(null));
  }, [booking.id, clinicId]);

  const cap = order && order !== "none" ? order.extras_cap_kopecks : 0;
  const currency = order && order !== "none" ? order.currency : booking.currency || "RUB";
  const list = useMemo(() => prices?.extras ?? [], [prices]);
  const check = useMemo(() => checkExtras(drafts, list, cap), [drafts, list, cap]);
  const money = (k: number) => formatMoney(k, currency, locale);
  const quote = order && order !== "none" ? order.quote_kopecks : booking.estimated_price_kopecks ?? 0;
  const canAdd = order !== "none" && cap > 0 && list.length > 0;

  const edit = (code: string, patch: Partial<ExtraDraft>) => setDrafts((ds) => ds.map((d) => (d.code === code ? { ...d, ...patch } : d)));

  const complete = async () => {
    setFailure(null);
    setTried(true);
    const problem = Object.keys(check.problems)[0];
    if (problem) {
      document.getElementById(check.problems[problem] === "extras.overCap" ? `extra-${problem}` : `extra-reason-${problem}`)?.focus();
      return;
    }
    setBusy(true);
    try {
      await progress(booking.id, "completed", check.extras);
      await onDone();
    } catch (exc) {
      // The socket's refusal carries the engine's own words (an unknown code, over the cap).
      if (exc instanceof Error && !(exc instanceof ApiError) && exc.message !== "not connected" && exc.message !== "connection lost" && exc.message !== "no answer")
        setFailure(t("extras.refused", { detail: exc.message }));
      else setFailure(exc instanceof ApiError ? errorText(t, exc) : t("progress.failed"));
    } finally {
      setBusy(false);
    }
  };

  return (
    <section class="card" aria-labelledby="complete-title" id="complete">
      <h2 id="complete-title">{t("extras.title")}</h2>
      <p id="complete-quote">{t("extras.quote", { price: money(quote) })}</p>
      {canAdd ? (
        <>
          <fieldset id="extras">
            <legend>{t("extras.legend", { cap: money(cap) })}</legend>
            {list.map((item) => {
              const d = drafts.find((x) => x.code === item.code);
              const problem = tried ? check.problems[item.code] : undefined;
              return (
                <div class="extra-row" key={item.code} data-code={item.code}>
                  <label class="choice">
                    <input
                      type="checkbox"
                      id={`extra-${item.code}`}
                      checked={Boolean(d?.chosen)}
                      onChange={(e) => edit(item.code, { chosen: e.currentTarget.checked })}
                      aria-describedby={problem === "extras.overCap" ? "cap-left" : undefined}
                    />
                    <span>
                      {lineName(item, locale)} — {money(item.price_kopecks)}
                      {!d?.chosen && !fits(item, check.left_kopecks) && <small class="muted"> · {t("extras.doesNotFit")}</small>}
                    </span>
                  </label>
                  {d?.chosen && (
                    <Field id={`extra-reason-${item.code}`} label={t("extras.reason")} error={problem && problem !== "extras.overCap" ? t(problem) : null}>
                      <input
                        id={`extra-reason-${item.code}`}
                        maxLength={500}
                        value={d.reason}
                        aria-invalid={problem && problem !== "extras.overCap" ? "true" : undefined}
                        aria-describedby={problem && problem !== "extras.overCap" ? `extra-reason-${item.code}-error` : undefined}
                        onInput={(e) => edit(item.code, { reason: e.currentTarget.value })}
                      />
                    </Field>
                  )}
                </div>
              );
            })}
          </fieldset>
          <p class="cap-left" id="cap-left" data-over={check.over ? "true" : "false"} data-left={String(check.left_kopecks)} aria-live="polite">
            {check.over
              ? t("extras.over", { over: money(-check.left_kopecks) })
              : t("extras.left", { left: money(check.left_kopecks), added: money(check.total_kopecks) })}
          </p>
        </>
      ) : (
        <p class="muted" id="extras-none">
          {order === "none" ? t("extras.noPayment") : t("extras.noneAllowed")}
        </p>
      )}
      <Alert id="visit-error">{failure}</Alert>
      <Button kind="primary" id="progress-completed" busy={busy} onClick={() => void complete()}>
        {t("extras.complete", { total: money(quote + (check.over ? 0 : check.total_kopecks)) })}
      </Button>
    </section>
  );
}
