import { useEffect, useState } from "preact/hooks";
import { useFocusHeading } from "../../components/ui";
import { useLocale, useT } from "../../i18n";
import { formatDateTime } from "../../i18n/format";
import type { User } from "../auth/types";
import { listBookings } from "./api";
import { StatusBadge } from "./components";
import { ACTIVE_STATUSES, type Booking } from "./types";

export function Home({ user }: { user: User }) {
  const t = useT();
  const locale = useLocale();
  const [active, setActive] = useState<Booking[]>([]);
  useFocusHeading("home");
  useEffect(() => {
    listBookings({ statuses: ACTIVE_STATUSES, limit: 5 })
      .then((page) => setActive(page.bookings))
      .catch(() => setActive([]));
  }, []);
  return (
    <main id="main">
      <h1>{user.first_name ? t("home.helloName", { name: user.first_name }) : t("home.hello")}</h1>
      {active.length > 0 && (
        <section class="card" aria-labelledby="active-title" id="active-visits">
          <h2 id="active-title">{t("home.activeVisits", { count: active.length })}</h2>
          <ul class="list">
            {active.map((b) => (
              <li key={b.id}>
                <a href={`/patient/visits/${encodeURIComponent(b.id)}`} class="row-link">
                  <span>{b.address || t("visit.noAddress")}</span>
                  <StatusBadge status={b.status} />
                  <small class="muted">{formatDateTime(b.scheduled_at ?? b.created_at, locale)}</small>
                </a>
              </li>
            ))}
          </ul>
        </section>
      )}
      <nav class="actions" aria-label={t("home.quickActions")}>
        <a class="action now" href="/patient/new" id="action-now">
          <span class="action-title">{t("home.doctorNow")}</span>
          <span class="action-sub">{t("home.doctorNowSub")}</span>
        </a>
        <a class="action later" href="/patient/new?when=later" id="action-later">
          <span class="action-title">{t("home.later")}</span>
          <span class="action-sub">{t("home.laterSub")}</span>
        </a>
        <a class="action emergency" href="/patient/emergency" id="action-emergency">
          <span class="action-title">{t("home.emergency")}</span>
          <span class="action-sub">{t("home.emergencySub")}</span>
        </a>
      </nav>
    </main>
  );
}
