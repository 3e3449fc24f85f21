import { useEffect, useMemo, useState } from "preact/hooks";
import { errorText } from "../../components/errors";
import { Alert, Button, Field, useFocusHeading, useNow } from "../../components/ui";
import { useLocale, useT, type MessageKey } from "../../i18n";
import { formatCountdown, formatDistance, formatDuration, formatMoney, formatTime } from "../../i18n/format";
import { useStore } from "../../lib/store";
import type { Marker } from "../map/types";
import { MapView } from "../map/MapView";
import { PaymentCard } from "../payments/PaymentCard";
import { cancelBooking } from "./api";
import { DoctorCard, StatusBadge, Timeline, When, useWords } from "./components";
import { secondsLeft, track, type Notice, type TrackingHandle } from "./tracking";
import { FINAL_STATUSES, WITH_DOCTOR } from "./types";

const CANCEL_REASONS: { code: string; key: MessageKey }[] = [
  { code: "better", key: "cancel.better" },
  { code: "plans", key: "cancel.plans" },
  { code: "waiting", key: "cancel.waiting" },
  { code: "mistake", key: "cancel.mistake" },
  { code: "other", key: "cancel.other" },
];

const NOTICE_WORDS: Record<Notice["kind"], MessageKey> = {
  assigned: "notice.assigned",
  released: "notice.released",
  arriving: "notice.arriving",
  message: "notice.message",
  notice: "notice.notice",
};

export function VisitScreen({ id }: { id: string }) {
  const t = useT();
  const locale = useLocale();
  const words = useWords();
  const [handle, setHandle] = useState<TrackingHandle | null>(null);
  useFocusHeading(`visit-${id}`);
  useEffect(() => {
    const h = track(id);
    setHandle(h);
    (window as unknown as { tot?: unknown }).tot = { tracking: h }; // for the browser tests
    return () => h.stop();
  }, [id]);
  if (!handle) return null;
  return <Tracking handle={handle} t={t} locale={locale} words={words} />;
}

function Tracking({ handle, t, locale, words }: { handle: TrackingHandle; t: ReturnType<typeof useT>; locale: ReturnType<typeof useLocale>; words: ReturnType<typeof useWords> }) {
  const state = useStore(handle.store);
  const now = useNow(1000);
  const [reason, setReason] = useState("");
  const [otherReason, setOtherReason] = useState("");
  const [cancelError, setCancelError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const b = state.booking;

  const markers: Marker[] = useMemo(() => {
    if (!b) return [];
    const list: Marker[] = [{ id: "home", kind: "home", lat: b.latitude, lon: b.longitude, label: t("map.you") }];
    if (state.doctor)
      list.push({
        id: "doctor",
        kind: "doctor",
        lat: state.doctor.lat,
        lon: state.doctor.lon,
        label: t("map.yourDoctor"),
        radiusM: state.doctor.coarse ? Math.max(300, state.doctor.accuracy_m) : 0,
      });
    return list;
  }, [b?.latitude, b?.longitude, state.doctor, t]);
  const fit = useMemo(() => (b ? [{ lat: b.latitude, lon: b.longitude }, ...(state.doctor ? [state.doctor] : [])] : []), [b?.id, Boolean(state.doctor)]);

  if (!b) return <main id="main"><h1>{t("visit.loading")}</h1></main>;
  const left = secondsLeft(state, now);
  const final = FINAL_STATUSES.includes(b.status);
  const withDoctor = WITH_DOCTOR.includes(b.status);

  const cancel = async (event: Event) => {
    event.preventDefault();
    setCancelError(null);
    if (!reason) {
      setCancelError(t("cancel.chooseReason"));
      return;
    }
    const text = reason === "other" ? otherReason.trim() : t(CANCEL_REASONS.find((r) => r.code === reason)!.key);
    if (!text) {
      setCancelError(t("cancel.writeReason"));
      return;
    }
    setBusy(true);
    try {
      const booking = await cancelBooking(b.id, text);
      handle.store.set((s) => ({ ...s, booking, timeline: booking.history }));
    } catch (exc) {
      setCancelError(errorText(t, exc));
    } finally {
      setBusy(false);
    }
  };

  return (
    <main id="main" class="with-map" data-booking-id={b.id}>
      <h1>
        {t("visit.title")} <StatusBadge status={b.status} id="booking-status" />
      </h1>
      <p class="connection" data-state={state.connection} id="connection">
        {state.connection === "open" ? t("connection.live") : t("connection.reconnecting")}
      </p>
      {state.arriving && !final && (
        <p class="banner arriving" id="arriving" role="status">
          {t("visit.arriving")}
        </p>
      )}
      {withDoctor && (
        <section class="card eta-card" aria-labelledby="eta-title">
          <h2 id="eta-title" class="sr-only">
            {t("visit.eta")}
          </h2>
          <dl class="figures">
            <div>
              <dt>{t("visit.etaLeft")}</dt>
              <dd id="eta" data-seconds={left === null ? "" : String(left)}>
                {b.status === "arrived" || b.status === "in_progress"
                  ? t("visit.here")
                  : left === null
                    ? "—"
                    : left >= 3600
                      ? formatDuration(left, locale)
                      : formatCountdown(left)}
              </dd>
            </div>
            <div>
              <dt>{t("visit.distance")}</dt>
              <dd id="distance">{formatDistance(state.distance_m, locale)}</dd>
            </div>
          </dl>
          {state.doctor?.coarse && <p class="hint" id="coarse-note">{t("visit.coarse")}</p>}
        </section>
      )}
      <MapView label={t("map.trackingLabel")} markers={markers} route={state.route} fit={fit} className="track-map" />
      <section class="card" aria-labelledby="doctor-title">
        <h2 id="doctor-title">{t("visit.yourDoctor")}</h2>
        {b.doctor && (withDoctor || b.status === "completed") ? (
          <DoctorCard doctor={b.doctor} />
        ) : (
          <p class="muted" id="doctor-card">
            {final ? t("visit.noDoctorFinal") : t("visit.lookingForDoctor")}
          </p>
        )}
      </section>
      <section class="card" aria-labelledby="details-title">
        <h2 id="details-title">{t("visit.details")}</h2>
        <dl class="details">
          <dt>{t("visit.address")}</dt>
          <dd id="booking-address">{b.address || t("visit.noAddress")}</dd>
          <dt>{t("visit.callType")}</dt>
          <dd>{words.callType(b.call_type)}</dd>
          {b.scheduled_at && (
            <>
              <dt>{t("visit.time")}</dt>
              <dd>
                <When at={b.scheduled_at} />
              </dd>
            </>
          )}
          {b.symptoms && (
            <>
              <dt>{t("visit.symptoms")}</dt>
              <dd>{b.symptoms}</dd>
            </>
          )}
          <dt>{b.final_price_kopecks !== null ? t("visit.finalPrice") : t("visit.price")}</dt>
          <dd id="booking-price">
            {b.final_price_kopecks !== null
              ? formatMoney(b.final_price_kopecks, b.currency, locale)
              : b.estimated_price_kopecks !== null
                ? t("visit.about", { price: formatMoney(b.estimated_price_kopecks, b.currency, locale) })
                : "—"}
          </dd>
        </dl>
      </section>
      <PaymentCard bookingId={b.id} bookingStatus={b.status} />
      <section class="card" aria-labelledby="timeline-title">
        <h2 id="timeline-title">{t("visit.timeline")}</h2>
        <Timeline entries={state.timeline} />
        {state.notices.length > 0 && (
          <ul class="notices" id="notices" aria-live="polite">
            {state.notices.map((n, i) => (
              <li key={`${n.at}-${i}`}>
                <time>{formatTime(n.at, locale)}</time> {t(NOTICE_WORDS[n.kind])}
                {n.text ? `: ${n.text}` : ""}
              </li>
            ))}
          </ul>
        )}
      </section>
      {!final && (
        <form class="card" onSubmit={cancel} aria-labelledby="cancel-title" id="cancel-form">
          <h2 id="cancel-title">{t("cancel.title")}</h2>
          <Field id="cancel-reason" label={t("cancel.reason")}>
            <select id="cancel-reason" value={reason} onChange={(e) => setReason((e.target as HTMLSelectElement).value)}>
              <option value="">{t("cancel.choose")}</option>
              {CANCEL_REASONS.map((r) => (
                <option key={r.code} value={r.code}>
                  {t(r.key)}
                </option>
              ))}
            </select>
          </Field>
          {reason === "other" && (
            <Field id="cancel-other" label={t("cancel.otherText")}>
              <input id="cancel-other" maxLength={1000} value={otherReason} onInput={(e) => setOtherReason((e.target as HTMLInputElement).value)} />
            </Field>
          )}
          <Alert id="cancel-error">{cancelError}</Alert>
          <Button type="submit" kind="danger" id="cancel-submit" busy={busy}>
            {t("cancel.submit")}
          </Button>
        </form>
      )}
    </main>
  );
}
