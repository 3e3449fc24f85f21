/** Call statistics as charts (and tables), with the period picker and the CSV exports:
 * the clinic's, or the platform's in the admin panel (with a clinic filter). */
import type { ComponentChildren } from "preact";
import { useEffect, useRef, useState } from "preact/hooks";
import { Alert, Button, Field } from "../../components/ui";
import { errorText } from "../../components/errors";
import { useLocale, useT } from "../../i18n";
import { formatDuration } from "../../i18n/format";
import { CALL_TYPE } from "../../i18n/words";
import { fetchStats, type Stats } from "./api";
import { CSV_TABLES, csvFileName, csvUrl, type CsvTable } from "./csv";
import { BarChart } from "./desk";
import { downloadFile } from "./api";
import { checkPeriod, isoDate, lastDays } from "./period";
import type { MessageKey } from "../../i18n";

const CSV_LABEL: Record<CsvTable, MessageKey> = {
  by_day: "clinic.csvByDay",
  by_hour: "clinic.csvByHour",
  by_doctor: "clinic.csvByDoctor",
  by_call_type: "clinic.csvByCallType",
  by_area: "clinic.csvByArea",
};

export function StatsView({ base, extra = {}, children }: { base: string; extra?: Record<string, string | null>; children?: ComponentChildren }) {
  const t = useT();
  const locale = useLocale();
  // The first answer is the server's default (the last 30 days in the clinic's own time
  // zone); the fields then show its dates.
  const [since, setSince] = useState("");
  const [until, setUntil] = useState("");
  const [applied, setApplied] = useState<{ since: string; until: string } | null>(null);
  const [stats, setStats] = useState<Stats | null>(null);
  const [failure, setFailure] = useState<string | null>(null);
  const [periodError, setPeriodError] = useState<MessageKey | null>(null);
  const [busy, setBusy] = useState(false);
  const extraKey = JSON.stringify(extra);
  const clinicToday = useRef<string | null>(null);

  useEffect(() => {
    let live = true;
    setBusy(true);
    setFailure(null);
    fetchStats(base, { since: applied?.since, until: applied?.until, ...extra })
      .then((s) => {
        if (!live) return;
        setStats(s);
        if (!applied) {
          clinicToday.current = String(s.until);
          setSince(String(s.since));
          setUntil(String(s.until));
        }
      })
      .catch((exc: unknown) => live && setFailure(errorText(t, exc)))
      .finally(() => live && setBusy(false));
    return () => {
      live = false;
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [base, applied, extraKey]);

  const apply = (event: Event) => {
    event.preventDefault();
    const problem = checkPeriod(since, until);
    setPeriodError(problem);
    if (!problem) setApplied({ since, until });
  };
  const preset = (days: number) => {
    // "Today" is the clinic's (the last answer's end), else this device's.
    const p = lastDays(clinicToday.current ?? isoDate(new Date()), days);
    setSince(p.since);
    setUntil(p.until);
    setPeriodError(null);
    setApplied(p);
  };
  const pct = (v: number | null | undefined) =>
    v === null || v === undefined ? "—" : new Intl.NumberFormat(locale, { style: "percent", maximumFractionDigits: 1 }).format(v);
  const dur = (s: number | null | undefined) => (s === null || s === undefined ? "—" : formatDuration(s, locale));
  const num = (v: number) => new Intl.NumberFormat(locale).format(v);
  const params = { since: stats ? String(stats.since) : applied?.since, until: stats ? String(stats.until) : applied?.until, ...extra };

  return (
    <div class="stats" aria-busy={busy ? "true" : "false"}>
      <form class="toolbar" onSubmit={apply} aria-label={t("clinic.period")}>
        {children}
        <Field id="stats-since" label={t("clinic.since")}>
          <input id="stats-since" type="date" value={since} onInput={(e) => setSince(e.currentTarget.value)} aria-invalid={periodError ? "true" : undefined} />
        </Field>
        <Field id="stats-until" label={t("clinic.until")} error={periodError ? t(periodError) : null}>
          <input id="stats-until" type="date" value={until} onInput={(e) => setUntil(e.currentTarget.value)} aria-invalid={periodError ? "true" : undefined} aria-describedby={periodError ? "stats-until-error" : undefined} />
        </Field>
        <Button kind="primary" type="submit" id="stats-apply" busy={busy}>
          {t("clinic.show")}
        </Button>
        <Button id="stats-7" onClick={() => preset(7)}>
          {t("clinic.lastWeek")}
        </Button>
        <Button id="stats-30" onClick={() => preset(30)}>
          {t("clinic.lastMonth")}
        </Button>
      </form>
      <Alert id="stats-error">{failure}</Alert>
      {stats && (
        <>
          <p class="muted small" id="stats-period">
            {t("clinic.periodShown", { since: stats.since, until: stats.until, timezone: stats.timezone })}
          </p>
          <dl class="kpis" id="stats-kpis">
            <div>
              <dt>{t("clinic.visitsTotal")}</dt>
              <dd id="kpi-visits">{num(stats.visits)}</dd>
            </div>
            <div>
              <dt>{t("clinic.median")}</dt>
              <dd id="kpi-p50">{dur(stats.time_to_doctor_s.p50)}</dd>
            </div>
            <div>
              <dt>{t("clinic.ninetieth")}</dt>
              <dd id="kpi-p90">{dur(stats.time_to_doctor_s.p90)}</dd>
            </div>
            <div>
              <dt>{t("clinic.noDoctorRate")}</dt>
              <dd id="kpi-no-doctor">{pct(stats.no_doctor_rate)}</dd>
            </div>
            <div>
              <dt>{t("clinic.cancellationRate")}</dt>
              <dd id="kpi-cancelled">{pct(stats.cancellation_rate)}</dd>
            </div>
          </dl>
          <div class="charts">
            <BarChart
              id="chart-by-day"
              title={t("clinic.chartByDay")}
              labelHeader={t("clinic.date")}
              valueHeader={t("clinic.visits")}
              data={stats.by_day.map((d) => ({ label: d.date.slice(5), value: d.visits }))}
              labelEvery={Math.max(1, Math.ceil(stats.by_day.length / 10))}
            />
            <BarChart
              id="chart-by-hour"
              title={t("clinic.chartByHour")}
              labelHeader={t("clinic.hour")}
              valueHeader={t("clinic.visits")}
              data={stats.by_hour.map((d) => ({ label: String(d.hour).padStart(2, "0"), value: d.visits }))}
              labelEvery={3}
            />
            <BarChart
              id="chart-by-call-type"
              title={t("clinic.chartByCallType")}
              labelHeader={t("clinic.callType")}
              valueHeader={t("clinic.visits")}
              data={stats.by_call_type.map((d) => ({ label: CALL_TYPE[d.call_type] ? t(CALL_TYPE[d.call_type]!) : d.call_type, value: d.visits }))}
            />
            <BarChart
              id="chart-by-doctor"
              title={t("clinic.chartByDoctor")}
              labelHeader={t("clinic.doctor")}
              valueHeader={t("clinic.visits")}
              data={stats.by_doctor.slice(0, 12).map((d) => ({ label: d.name, value: d.visits }))}
            />
          </div>
          <div class="panel">
            <h2>{t("clinic.byDoctorTitle")}</h2>
            <div class="table-wrap">
              <table class="dense" id="stats-by-doctor">
                <thead>
                  <tr>
                    <th scope="col">{t("clinic.doctor")}</th>
                    <th scope="col" class="num">{t("clinic.visits")}</th>
                    <th scope="col" class="num">{t("clinic.median")}</th>
                  </tr>
                </thead>
                <tbody>
                  {stats.by_doctor.map((d) => (
                    <tr key={d.doctor_id}>
                      <td>{d.name}</td>
                      <td class="num">{num(d.visits)}</td>
                      <td class="num">{dur(d.time_to_doctor_p50_s)}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
            <h2>{t("clinic.byCallTypeTitle")}</h2>
            <table class="dense" id="stats-by-call-type">
              <thead>
                <tr>
                  <th scope="col">{t("clinic.callType")}</th>
                  <th scope="col" class="num">{t("clinic.visits")}</th>
                  <th scope="col" class="num">{t("clinic.cancellationRate")}</th>
                </tr>
              </thead>
              <tbody>
                {stats.by_call_type.map((d) => (
                  <tr key={d.call_type}>
                    <td>{CALL_TYPE[d.call_type] ? t(CALL_TYPE[d.call_type]!) : d.call_type}</td>
                    <td class="num">{num(d.visits)}</td>
                    <td class="num">{pct(d.cancellation_rate)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
            <h2>{t("clinic.byAreaTitle")}</h2>
            <table class="dense" id="stats-by-area">
              <thead>
                <tr>
                  <th scope="col">{t("clinic.area")}</th>
                  <th scope="col">{t("clinic.coordinates")}</th>
                  <th scope="col" class="num">{t("clinic.visits")}</th>
                </tr>
              </thead>
              <tbody>
                {stats.by_area.map((d) => (
                  <tr key={d.area}>
                    <td>
                      <code>{d.area}</code>
                    </td>
                    <td>{`${d.lat.toFixed(4)}, ${d.lon.toFixed(4)}`}</td>
                    <td class="num">{num(d.visits)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          <h2>{t("clinic.export")}</h2>
          <p class="csv-links" id="csv-links">
            {CSV_TABLES.map((table) => {
              const url = csvUrl(base, table, params);
              return (
                <a
                  key={table}
                  id={`csv-${table}`}
                  href={url}
                  data-table={table}
                  onClick={(event) => {
                    event.preventDefault();
                    downloadFile(url, csvFileName(table, params.since ?? "", params.until ?? "")).catch((exc: unknown) => setFailure(errorText(t, exc)));
                  }}
                >
                  {t(CSV_LABEL[table])}
                </a>
              );
            })}
          </p>
        </>
      )}
    </div>
  );
}
