import { useEffect, useState } from "preact/hooks";
import { errorText } from "../../components/errors";
import { Alert, Button, useFocusHeading } from "../../components/ui";
import { useLocale, useT } from "../../i18n";
import { formatDateTime, formatMoney } from "../../i18n/format";
import { listBookings } from "./api";
import { StatusBadge, useWords } from "./components";
import type { Booking } from "./types";

export function History() {
  const t = useT();
  const locale = useLocale();
  const words = useWords();
  const [items, setItems] = useState<Booking[] | null>(null);
  const [cursor, setCursor] = useState<string | null>(null);
  const [failure, setFailure] = useState<string | null>(null);
  useFocusHeading("history");
  const load = async (after: string | null) => {
    try {
      const page = await listBookings({ cursor: after, limit: 20 });
      setItems((old) => [...(after ? old ?? [] : []), ...page.bookings]);
      setCursor(page.next_cursor);
    } catch (exc) {
      setFailure(errorText(t, exc));
    }
  };
  useEffect(() => {
    void load(null);
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, []);
  return (
    <main id="main">
      <h1>{t("history.title")}</h1>
      <Alert>{failure}</Alert>
      {items !== null && items.length === 0 && <p class="muted">{t("history.empty")}</p>}
      <ul class="list history" id="history">
        {(items ?? []).map((b) => (
          <li key={b.id} data-booking-id={b.id}>
            <a class="row-link" href={`/patient/visits/${encodeURIComponent(b.id)}`}>
              <span class="row-main">
                <b>{b.address || t("visit.noAddress")}</b>
                <small class="muted">
                  {formatDateTime(b.scheduled_at ?? b.created_at, locale)} · {words.callType(b.call_type)}
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
      {cursor && (
        <Button id="history-more" onClick={() => void load(cursor)}>
          {t("history.more")}
        </Button>
      )}
    </main>
  );
}
