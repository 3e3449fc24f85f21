/** One doctor's visits in this clinic, page by page. */
import { useEffect, useMemo } from "preact/hooks";
import { useFocusHeading } from "../../components/ui";
import { useLocale, useT } from "../../i18n";
import { formatDateTime } from "../../i18n/format";
import { BOOKING_STATUS, CALL_TYPE } from "../../i18n/words";
import { useStore } from "../../lib/store";
import { clinicsApi, type Clinic, type DoctorVisit } from "./api";
import { createCursorList } from "./cursorList";
import { LoadMore } from "./desk";

export function ClinicDoctorVisits({ clinic, doctorId }: { clinic: Clinic; doctorId: string }) {
  const t = useT();
  const locale = useLocale();
  useFocusHeading(`visits-${doctorId}`);
  const list = useMemo(
    () => createCursorList<DoctorVisit>((q) => clinicsApi.visits(clinic.clinic_id, doctorId, q)),
    [clinic.clinic_id, doctorId],
  );
  const s = useStore(list);
  useEffect(() => void list.reload(), [list]);
  return (
    <main id="main">
      <p>
        <a href="/clinic" id="back-doctors">
          ← {t("clinic.navDoctors")}
        </a>
      </p>
      <h1>{t("clinic.visitsTitle")}</h1>
      <div class="table-wrap">
        <table class="dense" id="visits">
          <thead>
            <tr>
              <th scope="col">{t("clinic.requestedAt")}</th>
              <th scope="col">{t("clinic.callType")}</th>
              <th scope="col">{t("clinic.status")}</th>
              <th scope="col">{t("clinic.address")}</th>
              <th scope="col">{t("clinic.completedAt")}</th>
            </tr>
          </thead>
          <tbody>
            {s.items.map((v) => (
              <tr key={v.booking_id} data-booking-id={v.booking_id}>
                <td>{formatDateTime(v.requested_at, locale)}</td>
                <td>{CALL_TYPE[v.call_type] ? t(CALL_TYPE[v.call_type]!) : v.call_type}</td>
                <td>
                  <span class={`badge status-${v.status}`}>{BOOKING_STATUS[v.status] ? t(BOOKING_STATUS[v.status]!) : v.status}</span>
                </td>
                <td>{v.address ?? "—"}</td>
                <td>{v.completed_at ? formatDateTime(v.completed_at, locale) : "—"}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      <LoadMore list={list} id="visits" count={(n) => t("clinic.visitsShown", { count: n })} />
    </main>
  );
}
