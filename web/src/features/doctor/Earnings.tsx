/** The doctor's earnings (their share per their contract with the clinic): today, this
 * week, this month, and per visit. */
import { useEffect, useState } from "preact/hooks";
import { errorText } from "../../components/errors";
import { Alert, Spinner, useFocusHeading } from "../../components/ui";
import { useLocale, useT } from "../../i18n";
import { formatDateTime, formatMoney } from "../../i18n/format";
import { CALL_TYPE } from "../../i18n/words";
import { paymentsApi } from "../payments/api";
import type { Earnings as EarningsData } from "../payments/types";

export function Earnings() {
  const t = useT();
  const locale = useLocale();
  useFocusHeading("earnings");
  const [data, setData] = useState<EarningsData | null>(null);
  const [failure, setFailure] = useState<string | null>(null);
  useEffect(() => {
    paymentsApi
      .earnings()
      .then(setData)
      .catch((exc: unknown) => setFailure(errorText(t, exc)));
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, []);
  const money = (k: number) => formatMoney(k, "RUB", locale);
  const service = (code: string | null) => (code && CALL_TYPE[code] ? t(CALL_TYPE[code]!) : code ?? "—");
  return (
    <main id="main">
      <h1>{t("earnings.title")}</h1>
      <Alert id="earnings-error">{failure}</Alert>
      {!data && !failure && <Spinner label={t("app.loading")} />}
      {data && (
        <>
          <dl class="figures card" id="earnings">
            <div>
              <dt>{t("earnings.today")}</dt>
              <dd id="earnings-today">{money(data.today_kopecks)}</dd>
            </div>
            <div>
              <dt>{t("earnings.week")}</dt>
              <dd id="earnings-week">{money(data.week_kopecks)}</dd>
            </div>
            <div>
              <dt>{t("earnings.month")}</dt>
              <dd id="earnings-month">{money(data.month_kopecks)}</dd>
            </div>
          </dl>
          <section class="card" aria-labelledby="earnings-visits-title">
            <h2 id="earnings-visits-title">{t("earnings.perVisit")}</h2>
            {data.visits.length === 0 ? (
              <p class="muted" id="earnings-none">
                {t("earnings.none")}
              </p>
            ) : (
              <table class="lines" id="earnings-visits">
                <caption class="sr-only">{t("earnings.perVisit")}</caption>
                <thead>
                  <tr>
                    <th scope="col">{t("earnings.when")}</th>
                    <th scope="col">{t("earnings.service")}</th>
                    <th scope="col" class="num">{t("earnings.earned")}</th>
                  </tr>
                </thead>
                <tbody>
                  {data.visits.map((v) => (
                    <tr key={v.booking_id} data-booking-id={v.booking_id}>
                      <td>
                        <a href={`/doctor/visit/${encodeURIComponent(v.booking_id)}`}>{formatDateTime(v.at, locale)}</a>
                      </td>
                      <td>{service(v.service_code)}</td>
                      <td class="num">{money(v.earned_kopecks)}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            )}
            <p class="hint">{t("earnings.note", { timezone: data.timezone })}</p>
          </section>
        </>
      )}
    </main>
  );
}
