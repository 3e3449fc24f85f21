/** Money reports: revenue, commission, refunds, provider fees, the doctors' share, what is
 * payable to the clinic, by day, month, doctor and service (and by clinic, the platform's
 * report); for a period; as CSV. The clinic's (its admin) or the platform's (admins). */
import type { ComponentChildren } from "preact";
import { useEffect, useState } from "preact/hooks";
import { errorText } from "../../components/errors";
import { Alert, Button, Field } from "../../components/ui";
import { useLocale, useT, type MessageKey } from "../../i18n";
import { formatMoney } from "../../i18n/format";
import { CALL_TYPE } from "../../i18n/words";
import { financeCsvUrl, paymentsApi } from "../payments/api";
import type { Finance, Group, Totals } from "../payments/types";
import { downloadFile } from "./api";
import { checkPeriod, isoDate, lastDays } from "./period";

const COLUMNS: { key: keyof Totals; label: MessageKey; money: boolean }[] = [
  { key: "revenue_kopecks", label: "finance.revenue", money: true },
  { key: "commission_kopecks", label: "finance.commission", money: true },
  { key: "refunds_kopecks", label: "finance.refunds", money: true },
  { key: "fees_kopecks", label: "finance.fees", money: true },
  { key: "doctors_kopecks", label: "finance.doctors", money: true },
  { key: "payable_kopecks", label: "finance.payable", money: true },
  { key: "net_kopecks", label: "finance.net", money: true },
  { key: "captures", label: "finance.captures", money: false },
  { key: "refund_count", label: "finance.refundCount", money: false },
];

export function FinanceView({ base, names = {}, children }: { base: string; names?: Record<string, string>; children?: ComponentChildren }) {
  const t = useT();
  const locale = useLocale();
  const [since, setSince] = useState("");
  const [until, setUntil] = useState("");
  const [applied, setApplied] = useState<{ since: string; until: string } | null>(null);
  const [report, setReport] = useState<Finance | null>(null);
  const [failure, setFailure] = useState<string | null>(null);
  const [periodError, setPeriodError] = useState<MessageKey | null>(null);
  const [busy, setBusy] = useState(false);

  useEffect(() => {
    let live = true;
    setBusy(true);
    setFailure(null);
    paymentsApi
      .finance(base, applied?.since, applied?.until)
      .then((r) => {
        if (!live) return;
        setReport(r);
        if (!applied) {
          setSince(r.since);
          setUntil(r.until);
        }
      })
      .catch((exc: unknown) => live && setFailure(errorText(t, exc)))
      .finally(() => live && setBusy(false));
    return () => {
      live = false;
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [base, applied]);

  const apply = (event: Event) => {
    event.preventDefault();
    const problem = checkPeriod(since, until);
    setPeriodError(problem);
    if (!problem) setApplied({ since, until });
  };
  const preset = (days: number) => {
    const p = lastDays(report?.until ?? isoDate(new Date()), days);
    setSince(p.since);
    setUntil(p.until);
    setPeriodError(null);
    setApplied(p);
  };
  const money = (k: number) => formatMoney(k, "RUB", locale);
  const num = (v: number) => new Intl.NumberFormat(locale).format(v);
  const cell = (g: Totals, c: (typeof COLUMNS)[number]) => (c.money ? money(g[c.key]) : num(g[c.key]));
  const download = () => {
    if (!report) return;
    downloadFile(financeCsvUrl(base, report.since, report.until, locale), `tot-finance-${report.since}-${report.until}.csv`).catch((exc: unknown) => setFailure(errorText(t, exc)));
  };

  const table = (id: string, title: MessageKey, keyHeader: MessageKey, groups: Group[], label: (key: string) => string = (k) => k) => (
    <section class="panel" aria-labelledby={`${id}-title`}>
      <h2 id={`${id}-title`}>{t(title)}</h2>
      {groups.length === 0 ? (
        <p class="muted">{t("finance.nothing")}</p>
      ) : (
        <div class="table-wrap">
          <table class="dense" id={id} data-rows={String(groups.length)}>
            <thead>
              <tr>
                <th scope="col">{t(keyHeader)}</th>
                {COLUMNS.map((c) => (
                  <th key={c.key} scope="col" class="num">
                    {t(c.label)}
                  </th>
                ))}
              </tr>
            </thead>
            <tbody>
              {groups.map((g) => (
                <tr key={g.key} data-key={g.key}>
                  <th scope="row">{label(g.key)}</th>
                  {COLUMNS.map((c) => (
                    <td key={c.key} class="num">
                      {cell(g.totals, c)}
                    </td>
                  ))}
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );

  return (
    <div class="finance" aria-busy={busy ? "true" : "false"}>
      <form class="toolbar" onSubmit={apply} aria-label={t("clinic.period")}>
        {children}
        <Field id="finance-since" label={t("clinic.since")}>
          <input id="finance-since" type="date" value={since} onInput={(e) => setSince(e.currentTarget.value)} aria-invalid={periodError ? "true" : undefined} />
        </Field>
        <Field id="finance-until" label={t("clinic.until")} error={periodError ? t(periodError) : null}>
          <input id="finance-until" type="date" value={until} onInput={(e) => setUntil(e.currentTarget.value)} aria-invalid={periodError ? "true" : undefined} aria-describedby={periodError ? "finance-until-error" : undefined} />
        </Field>
        <Button kind="primary" type="submit" id="finance-apply" busy={busy}>
          {t("clinic.show")}
        </Button>
        <Button id="finance-7" onClick={() => preset(7)}>
          {t("clinic.lastWeek")}
        </Button>
        <Button id="finance-30" onClick={() => preset(30)}>
          {t("clinic.lastMonth")}
        </Button>
        <Button id="finance-csv" onClick={download} disabled={!report}>
          {t("finance.csv")}
        </Button>
      </form>
      <Alert id="finance-error">{failure}</Alert>
      {report && (
        <>
          <p class="muted small" id="finance-period">
            {t("clinic.periodShown", { since: report.since, until: report.until, timezone: report.timezone })}
          </p>
          <dl class="kpis" id="finance-totals">
            {COLUMNS.map((c) => (
              <div key={c.key}>
                <dt>{t(c.label)}</dt>
                <dd id={`total-${c.key}`} data-value={String(report.totals[c.key])}>
                  {cell(report.totals, c)}
                </dd>
              </div>
            ))}
          </dl>
          {report.by_clinic.length > 0 && table("finance-by-clinic", "finance.byClinic", "finance.clinic", report.by_clinic, (k) => names[k] ?? k)}
          {table("finance-by-doctor", "finance.byDoctor", "finance.doctor", report.by_doctor, (k) => names[k] ?? k)}
          {table("finance-by-service", "finance.byService", "finance.service", report.by_service, (k) => (CALL_TYPE[k] ? t(CALL_TYPE[k]!) : k))}
          {table("finance-by-month", "finance.byMonth", "finance.month", report.by_month)}
          {table("finance-by-day", "finance.byDay", "finance.day", report.by_day)}
        </>
      )}
    </div>
  );
}
