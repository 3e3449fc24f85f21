import { useLocale, useT } from "../../i18n";
import { formatDateTime, formatRating, formatTime } from "../../i18n/format";
import { BOOKING_STATUS, CALL_TYPE, LANGUAGE, SPECIALIZATION, reasonWords } from "../../i18n/words";
import type { DoctorPublic, StatusEntry } from "./types";

export function StatusBadge({ status, id }: { status: string; id?: string }) {
  const t = useT();
  const key = BOOKING_STATUS[status];
  return (
    <span id={id} class={`badge status-${status}`} data-status={status}>
      {key ? t(key) : t("status.unknown")}
    </span>
  );
}

export function useWords() {
  const t = useT();
  return {
    callType: (code: string) => (CALL_TYPE[code] ? t(CALL_TYPE[code]!) : t("callType.other")),
    specialization: (code: string | null) =>
      code && SPECIALIZATION[code] ? t(SPECIALIZATION[code]!) : code ? t("specialization.other") : "",
    language: (code: string) => (LANGUAGE[code] ? t(LANGUAGE[code]!) : code.toUpperCase()),
  };
}

export function Timeline({ entries, id = "timeline" }: { entries: StatusEntry[]; id?: string }) {
  const t = useT();
  const locale = useLocale();
  return (
    <ol class="timeline" id={id}>
      {entries.map((entry, i) => {
        const words = reasonWords(entry.reason);
        const key = BOOKING_STATUS[entry.status];
        return (
          <li key={`${entry.status}-${i}`} data-status={entry.status}>
            <time dateTime={entry.at}>{formatTime(entry.at, locale)}</time>
            <b>{key ? t(key) : t("status.unknown")}</b>
            {words && <span class="reason">{"key" in words ? t(words.key) : `«${words.text}»`}</span>}
          </li>
        );
      })}
    </ol>
  );
}

export function DoctorCard({ doctor, id = "doctor-card" }: { doctor: DoctorPublic; id?: string }) {
  const t = useT();
  const locale = useLocale();
  const words = useWords();
  const name = [doctor.first_name, doctor.last_name].filter(Boolean).join(" ") || t("doctor.unnamed");
  return (
    <div class="doctor-card" id={id}>
      <div class="avatar" aria-hidden="true">
        {(doctor.first_name[0] ?? "").toUpperCase()}
        {(doctor.last_name[0] ?? "").toUpperCase()}
      </div>
      <div>
        <p class="doctor-name">{t("doctor.title", { name })}</p>
        <p class="muted">
          {words.specialization(doctor.specialization)}
          {doctor.experience_years ? ` · ${t("doctor.experience", { years: doctor.experience_years })}` : ""}
        </p>
        <p class="muted">
          {doctor.rating !== null ? t("doctor.rating", { rating: formatRating(doctor.rating, locale) }) : t("doctor.noRating")}
          {doctor.languages.length ? ` · ${doctor.languages.map(words.language).join(", ")}` : ""}
        </p>
      </div>
    </div>
  );
}

export function When({ at }: { at: string | null }) {
  const locale = useLocale();
  if (!at) return null;
  return <time dateTime={at}>{formatDateTime(at, locale)}</time>;
}
