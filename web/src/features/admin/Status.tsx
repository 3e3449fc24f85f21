/** The system's state, refreshed every 5 seconds: health and readiness, storage and
 * Redis, open bookings and doctors by status, dispatch latency, WebSocket connections. */
import { Fragment } from "preact";
import { useEffect, useState } from "preact/hooks";
import { Alert, Button, useFocusHeading } from "../../components/ui";
import { errorText } from "../../components/errors";
import { useLocale, useT } from "../../i18n";
import { formatTime } from "../../i18n/format";
import { BOOKING_STATUS, DOCTOR_STATUS } from "../../i18n/words";
import { adminApi, type SystemStatus } from "./api";

export const STATUS_EVERY_MS = 5000;

export function checkOk(value: unknown): boolean {
  if (value === true || value === "ok") return true;
  if (value && typeof value === "object" && "ok" in value) return (value as { ok: unknown }).ok === true;
  return false;
}

export function SystemStatusScreen() {
  const t = useT();
  const locale = useLocale();
  useFocusHeading("admin-status");
  const [status, setStatus] = useState<SystemStatus | null>(null);
  const [at, setAt] = useState<number | null>(null);
  const [failure, setFailure] = useState<string | null>(null);
  const [paused, setPaused] = useState(false);

  useEffect(() => {
    if (paused) return;
    let live = true;
    const load = () => {
      if (document.hidden) return;
      adminApi
        .status()
        .then((s) => {
          if (!live) return;
          setStatus(s);
          setAt(Date.now());
          setFailure(null);
        })
        .catch((exc: unknown) => live && setFailure(errorText(t, exc)));
    };
    load();
    const timer = setInterval(load, STATUS_EVERY_MS);
    return () => {
      live = false;
      clearInterval(timer);
    };
  }, [paused, t]);

  const num = (v: number | null | undefined, digits = 0) => (v === null || v === undefined ? "—" : new Intl.NumberFormat(locale, { maximumFractionDigits: digits }).format(v));
  const uptime = (s: number) => t("admin.uptimeValue", { days: Math.floor(s / 86400), hours: Math.floor((s % 86400) / 3600), minutes: Math.floor((s % 3600) / 60) });

  return (
    <main id="main">
      <div class="row">
        <h1>{t("admin.statusTitle")}</h1>
        <span class="muted small" id="status-updated" data-at={at ? String(at) : ""}>
          {at ? t("admin.updatedAt", { time: formatTime(at, locale) }) : t("app.loading")}
        </span>
        <Button id="status-pause" aria-pressed={paused ? "true" : "false"} onClick={() => setPaused((p) => !p)}>
          {paused ? t("admin.resume") : t("admin.pause")}
        </Button>
      </div>
      <Alert id="status-error">{failure}</Alert>
      {status && (
        <div class="status-grid">
          <section class="panel" aria-labelledby="st-health">
            <h2 id="st-health">{t("admin.health")}</h2>
            <dl class="details">
              <dt>{t("admin.health")}</dt>
              <dd id="status-health" class={status.health === "ok" ? "state-ok" : "state-bad"}>
                {status.health === "ok" ? t("admin.ok") : status.health}
              </dd>
              <dt>{t("admin.ready")}</dt>
              <dd id="status-ready" data-ready={status.ready ? "true" : "false"} class={status.ready ? "state-ok" : "state-bad"}>
                {status.ready ? t("admin.yes") : t("admin.no")}
              </dd>
              {Object.entries(status.checks ?? {}).map(([name, value]) => (
                <Fragment key={name}>
                  <dt>{name === "storage" ? t("admin.checkStorage") : name === "redis" ? t("admin.checkRedis") : name === "engine_writer" ? t("admin.checkWriter") : name}</dt>
                  <dd id={`check-${name}`} class={checkOk(value) ? "state-ok" : "state-bad"}>
                    {checkOk(value) ? t("admin.ok") : typeof value === "string" ? value : t("admin.failing")}
                  </dd>
                </Fragment>
              ))}
              <dt>{t("admin.storage")}</dt>
              <dd id="status-storage">{status.storage}</dd>
              <dt>{t("admin.bus")}</dt>
              <dd id="status-bus">{status.bus}</dd>
              <dt>{t("admin.uptime")}</dt>
              <dd>{uptime(status.uptime_s)}</dd>
            </dl>
          </section>
          <section class="panel" aria-labelledby="st-live">
            <h2 id="st-live">{t("admin.liveFigures")}</h2>
            <dl class="details">
              <dt>{t("admin.dispatchMedian")}</dt>
              <dd id="status-p50">{num(status.dispatch_ms.p50, 1)}</dd>
              <dt>{t("admin.dispatchTail")}</dt>
              <dd id="status-p99">{num(status.dispatch_ms.p99, 1)}</dd>
              <dt>{t("admin.dispatchCount")}</dt>
              <dd>{num(status.dispatch_ms.count)}</dd>
              <dt>{t("admin.websockets")}</dt>
              <dd id="status-ws">{num(status.websocket_connections)}</dd>
            </dl>
          </section>
          <section class="panel" aria-labelledby="st-bookings">
            <h2 id="st-bookings">{t("admin.openBookings")}</h2>
            <table class="dense" id="status-bookings">
              <tbody>
                {Object.entries(status.open_bookings).map(([k, v]) => (
                  <tr key={k}>
                    <th scope="row">{BOOKING_STATUS[k] ? t(BOOKING_STATUS[k]!) : k}</th>
                    <td class="num">{num(v)}</td>
                  </tr>
                ))}
                {!Object.keys(status.open_bookings).length && (
                  <tr>
                    <td>{t("admin.none")}</td>
                  </tr>
                )}
              </tbody>
            </table>
          </section>
          <section class="panel" aria-labelledby="st-doctors">
            <h2 id="st-doctors">{t("admin.doctorsByStatus")}</h2>
            <table class="dense" id="status-doctors">
              <tbody>
                {Object.entries(status.doctors).map(([k, v]) => (
                  <tr key={k} data-status={k}>
                    <th scope="row">{DOCTOR_STATUS[k] ? t(DOCTOR_STATUS[k]!) : k}</th>
                    <td class="num">{num(v)}</td>
                  </tr>
                ))}
                {!Object.keys(status.doctors).length && (
                  <tr>
                    <td>{t("admin.none")}</td>
                  </tr>
                )}
              </tbody>
            </table>
          </section>
        </div>
      )}
    </main>
  );
}
