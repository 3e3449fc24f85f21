import { useEffect, useState } from "preact/hooks";
import { errorText } from "../../components/errors";
import { Alert, useFocusHeading } from "../../components/ui";
import { useLocale, useT } from "../../i18n";
import { formatMoney, formatTime } from "../../i18n/format";
import { listBookings } from "../patient/api";
import { StatusBadge, useWords } from "../patient/components";
import type { Booking } from "../patient/types";

/** Bookings of this doctor made or scheduled today (the device's day). */
export function isToday(b: Booking, now: Date): boolean {
  const d = new Date(b.scheduled_at ?? b.assigned_at ?? b.created_at);
  return d.getFullYear() === now.getFullYear() && d.getMonth() === now.getMonth() && d.getDate() === now.getDate();
}

export function Today() {
  const t = useT();
  const locale = useLocale();
  const words = useWords();
  const [items, setItems] = useState<Booking[] | null>(null);
  const [failure, setFailure] = useState<string | null>(null);
  useFocusHeading("today");
  useEffect(() => {
    listBookings({ limit: 50 })
      .then((page) => setItems(page.bookings.filter((b) => isToday(b, new Date()))))
      .catch((exc) => setFailure(errorText(t, exc)));
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, []);
  return (
    <main id="main">
      <h1>{t("today.title")}</h1>
      <Alert>{failure}</Alert>
      {items !== null && <p class="muted">{t("today.count", { count: items.length })}</p>}
      <ul class="list" id="today">
        {(items ?? []).map((b) => (
          <li key={b.id}>
            <a class="row-link" href={`/doctor/visit/${encodeURIComponent(b.id)}`}>
              <span class="row-main">
                <b>{b.address || t("visit.noAddress")}</b>
                <small class="muted">
                  {formatTime(b.assigned_at ?? b.created_at, locale)} · {words.callType(b.call_type)}
                </small>
              </span>
              <span class="row-side">
                <StatusBadge status={b.status} />
                <small>{formatMoney(b.final_price_kopecks ?? b.estimated_price_kopecks, b.currency, locale)}</small>
              </span>
            </a>
          </li>
        ))}
      </ul>
    </main>
  );
}
