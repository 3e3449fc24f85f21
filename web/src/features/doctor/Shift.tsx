import { useState } from "preact/hooks";
import { Alert, Button, useFocusHeading } from "../../components/ui";
import { useT, type MessageKey } from "../../i18n";
import { DOCTOR_STATUS } from "../../i18n/words";
import { useStore } from "../../lib/store";
import type { User } from "../auth/types";
import { doctor$, goOffline, goOnline, LocationError, setBreak, watchLocation, type LocationState } from "./store";

const LOCATION_WORDS: Record<LocationState, MessageKey> = {
  unknown: "location.unknown",
  asking: "location.asking",
  watching: "location.watching",
  denied: "location.denied",
  unavailable: "location.unavailable",
  unsupported: "location.unsupported",
};

export function Shift({ user }: { user: User }) {
  const t = useT();
  const s = useStore(doctor$);
  const [failure, setFailure] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  useFocusHeading("shift");
  const run = async (work: () => Promise<void>) => {
    setFailure(null);
    setBusy(true);
    try {
      await work();
    } catch (exc) {
      setFailure(exc instanceof LocationError ? t(LOCATION_WORDS[exc.state]) : t("shift.failed"));
    } finally {
      setBusy(false);
    }
  };
  const problem = s.location === "denied" || s.location === "unavailable" || s.location === "unsupported";
  return (
    <main id="main">
      <h1>{t("shift.title")}</h1>
      {!user.is_verified && (
        <p class="banner warn" id="not-verified">
          {t("verify.pending")} <a href="/doctor/profile">{t("verify.documentsLink")}</a>
        </p>
      )}
      <section class="card" aria-labelledby="status-title">
        <h2 id="status-title">{t("shift.status")}</h2>
        <p class="big-status">
          <span class={`badge doctor-${s.status}`} id="doctor-status" data-status={s.status}>
            {t(DOCTOR_STATUS[s.status] ?? "doctorStatus.offline")}
          </span>
        </p>
        <p class="connection" id="connection" data-state={s.connection}>
          {s.connection === "open" ? t("connection.live") : t("connection.reconnecting")}
        </p>
        <p id="location-state" data-state={s.location} class={problem ? "error" : "muted"} role={problem ? "alert" : undefined}>
          {t(LOCATION_WORDS[s.location])}
        </p>
        {s.location === "denied" && <p class="hint">{t("location.howToAllow")}</p>}
        {s.position && (
          <p class="muted small" id="fix-count" data-count={String(s.fixes)}>
            {t("shift.fixes", { count: s.fixes })}
          </p>
        )}
        <div class="row">
          {!s.onShift ? (
            <Button kind="primary" id="go-online" busy={busy} disabled={!user.is_verified || s.connection !== "open"} onClick={() => void run(goOnline)}>
              {t("shift.start")}
            </Button>
          ) : (
            <Button id="go-offline" busy={busy} disabled={Boolean(s.visitId)} onClick={() => void run(goOffline)}>
              {t("shift.end")}
            </Button>
          )}
          {s.onShift && !s.visitId && (
            <Button id="break" busy={busy} onClick={() => void run(() => setBreak(s.status !== "on_break"))}>
              {s.status === "on_break" ? t("shift.endBreak") : t("shift.break")}
            </Button>
          )}
          {!s.onShift && s.location !== "watching" && (
            <Button id="ask-location" onClick={() => void watchLocation()}>
              {t("location.allow")}
            </Button>
          )}
        </div>
        <Alert id="shift-error">{failure}</Alert>
        {s.lastOutcome && (
          <p class="muted" role="status" id="last-outcome">
            {t(s.lastOutcome.kind === "lapsed" ? "offer.lapsed" : s.lastOutcome.kind === "declined" ? "offer.declined" : s.lastOutcome.kind === "accepted" ? "offer.accepted" : "offer.taken")}
          </p>
        )}
      </section>
      {s.visitId && (
        <section class="card" aria-labelledby="current-title">
          <h2 id="current-title">{t("shift.currentVisit")}</h2>
          <a class="btn primary" href={`/doctor/visit/${encodeURIComponent(s.visitId)}`} id="open-visit">
            {t("shift.openVisit")}
          </a>
        </section>
      )}
    </main>
  );
}
