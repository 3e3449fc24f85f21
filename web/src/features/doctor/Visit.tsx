import { useEffect, useMemo, useRef, useState } from "preact/hooks";
import { errorText } from "../../components/errors";
import { Alert, Button, useFocusHeading } from "../../components/ui";
import { useLocale, useT, type MessageKey } from "../../i18n";
import { formatDistance, formatDuration } from "../../i18n/format";
import { useStore } from "../../lib/store";
import { roadRoute, type Route } from "../map/api";
import { MapView } from "../map/MapView";
import type { Marker } from "../map/types";
import { StatusBadge, Timeline, useWords } from "../patient/components";
import type { Booking } from "../patient/types";
import { CompleteVisit } from "./Complete";
import { doctor$, getBooking, progress } from "./store";

const NEXT: Record<string, { status: "en_route" | "arrived" | "in_progress" | "completed"; key: MessageKey }> = {
  assigned: { status: "en_route", key: "progress.en_route" },
  en_route: { status: "arrived", key: "progress.arrived" },
  arrived: { status: "in_progress", key: "progress.in_progress" },
  in_progress: { status: "completed", key: "progress.completed" },
};

/** Metres between two points (haversine). */
export function metresBetween(a: { lat: number; lon: number }, b: { lat: number; lon: number }): number {
  const rad = Math.PI / 180;
  const dLat = (b.lat - a.lat) * rad;
  const dLon = (b.lon - a.lon) * rad;
  const h = Math.sin(dLat / 2) ** 2 + Math.cos(a.lat * rad) * Math.cos(b.lat * rad) * Math.sin(dLon / 2) ** 2;
  return 2 * 6_371_000 * Math.asin(Math.sqrt(h));
}

export function DoctorVisit({ id }: { id: string }) {
  const t = useT();
  const locale = useLocale();
  const words = useWords();
  const s = useStore(doctor$);
  const [booking, setBooking] = useState<Booking | null>(null);
  const [route, setRoute] = useState<Route | null>(null);
  const [failure, setFailure] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const routedFrom = useRef<{ lat: number; lon: number } | null>(null);
  useFocusHeading(`dvisit-${id}`);

  useEffect(() => {
    getBooking(id).then(setBooking).catch((exc) => setFailure(errorText(t, exc)));
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [id, s.visitStatus]);

  // The road route from here, again when the doctor has moved 150 m off its start.
  const pos = s.position;
  const active = booking && ["assigned", "en_route"].includes(booking.status);
  useEffect(() => {
    if (!booking || !pos || !active) return;
    if (routedFrom.current && metresBetween(routedFrom.current, pos) < 150) return;
    routedFrom.current = pos;
    const controller = new AbortController();
    roadRoute(pos, { lat: booking.latitude, lon: booking.longitude }, controller.signal)
      .then(setRoute)
      .catch(() => undefined);
    return () => controller.abort();
  }, [booking?.id, active, pos?.lat, pos?.lon]);

  const markers: Marker[] = useMemo(() => {
    const list: Marker[] = [];
    if (booking) list.push({ id: "patient", kind: "patient", lat: booking.latitude, lon: booking.longitude, label: t("map.patient") });
    if (pos) list.push({ id: "me", kind: "me", lat: pos.lat, lon: pos.lon, label: t("map.me") });
    return list;
  }, [booking?.latitude, booking?.longitude, pos?.lat, pos?.lon, t]);
  const fit = useMemo(
    () => (booking ? [{ lat: booking.latitude, lon: booking.longitude }, ...(pos ? [pos] : [])] : []),
    // eslint-disable-next-line react-hooks/exhaustive-deps
    [booking?.id, Boolean(pos)],
  );

  if (!booking) {
    return (
      <main id="main">
        <h1>{t("visit.loading")}</h1>
        <Alert>{failure}</Alert>
      </main>
    );
  }
  const status = s.visitId === booking.id && s.visitStatus ? s.visitStatus : booking.status;
  const next = NEXT[status];
  const move = async () => {
    if (!next) return;
    setFailure(null);
    setBusy(true);
    try {
      await progress(booking.id, next.status);
      setBooking(await getBooking(booking.id));
    } catch (exc) {
      setFailure(exc instanceof Error && exc.message !== "not connected" ? t("progress.failed") : errorText(t, exc));
    } finally {
      setBusy(false);
    }
  };
  const steps = route?.steps ?? [];
  return (
    <main id="main" class="with-map" data-booking-id={booking.id}>
      <h1>
        {t("dvisit.title")} <StatusBadge status={status} id="visit-status" />
      </h1>
      <MapView label={t("map.routeLabel")} markers={markers} route={active ? route?.points ?? null : null} fit={fit} className="track-map" />
      {active && route && (
        <section class="card" aria-labelledby="route-title" id="route">
          <h2 id="route-title">{t("dvisit.route")}</h2>
          <p id="visit-route">{t("dvisit.routeSummary", { distance: formatDistance(route.distance_m, locale), eta: formatDuration(route.eta_s, locale) })}</p>
          {steps.length > 0 ? (
            <ol class="steps" id="route-steps">
              {steps.map((step, i) => (
                <li key={i}>
                  <b>{step.street ?? t("dvisit.unnamedRoad")}</b> <span class="muted">{formatDistance(step.distance_m, locale)}</span>
                </li>
              ))}
            </ol>
          ) : (
            <p class="muted">{t("dvisit.noSteps")}</p>
          )}
        </section>
      )}
      <section class="card" aria-labelledby="dvisit-details">
        <h2 id="dvisit-details">{t("visit.details")}</h2>
        <dl class="details">
          <dt>{t("visit.address")}</dt>
          <dd id="visit-address">{booking.address || t("visit.noAddress")}</dd>
          <dt>{t("visit.callType")}</dt>
          <dd>{words.callType(booking.call_type)}</dd>
          <dt>{t("visit.forWhom")}</dt>
          <dd>{booking.patient_is_child ? t("visit.child") : t("visit.adult")}</dd>
          {booking.symptoms && (
            <>
              <dt>{t("visit.symptoms")}</dt>
              <dd id="visit-symptoms">{booking.symptoms}</dd>
            </>
          )}
        </dl>
      </section>
      {next && next.status === "completed" && (
        <CompleteVisit booking={booking} onDone={async () => setBooking(await getBooking(booking.id))} />
      )}
      {next && next.status !== "completed" && (
        <section class="card" aria-labelledby="progress-title">
          <h2 id="progress-title">{t("progress.title")}</h2>
          <Alert id="visit-error">{failure}</Alert>
          <Button kind="primary" id={`progress-${next.status}`} busy={busy} onClick={() => void move()}>
            {t(next.key)}
          </Button>
        </section>
      )}
      <section class="card" aria-labelledby="dtimeline">
        <h2 id="dtimeline">{t("visit.timeline")}</h2>
        <Timeline entries={booking.history} id="visit-timeline" />
      </section>
    </main>
  );
}
