/** The clinic's doctors: search and filters on the server, pages by cursor, who is on
 * shift now on the map, adding or inviting by e-mail (the invitation link shown once). */
import { useEffect, useMemo, useState } from "preact/hooks";
import { Alert, Button, Field, useFocusHeading } from "../../components/ui";
import { errorText } from "../../components/errors";
import { useT, type MessageKey } from "../../i18n";
import { DOCTOR_STATUS, SPECIALIZATION } from "../../i18n/words";
import { ApiError } from "../../lib/http";
import { useStore } from "../../lib/store";
import { MapView } from "../map/MapView";
import type { Marker } from "../map/types";
import { clinicsApi, type AddDoctorAnswer, type Clinic, type ClinicDoctor } from "./api";
import { createCursorList } from "./cursorList";
import { LoadMore } from "./desk";

export const VERIFICATION: Record<string, MessageKey> = {
  pending: "clinic.verificationPending",
  verified: "clinic.verificationVerified",
  rejected: "clinic.verificationRejected",
};

export function ClinicDoctors({ clinic }: { clinic: Clinic }) {
  const t = useT();
  useFocusHeading("clinic-doctors");
  const list = useMemo(() => createCursorList<ClinicDoctor>((q) => clinicsApi.doctors(clinic.clinic_id, q)), [clinic.clinic_id]);
  const state = useStore(list);
  const [q, setQ] = useState("");
  const [verification, setVerification] = useState("");
  const [onShift, setOnShift] = useState("");
  const [onMap, setOnMap] = useState<ClinicDoctor[]>([]);
  const [failure, setFailure] = useState<string | null>(null);
  const [inviting, setInviting] = useState(false);

  // The list follows the filters (the search after a short pause).
  useEffect(() => {
    const timer = setTimeout(() => void list.reload({ q: q.trim(), verification, on_shift: onShift }), q ? 250 : 0);
    return () => clearTimeout(timer);
  }, [list, q, verification, onShift]);

  // Who is on shift now, for the map: refreshed every 10 s.
  useEffect(() => {
    let live = true;
    const load = () =>
      clinicsApi
        .doctors(clinic.clinic_id, "on_shift=true&limit=200")
        .then((page) => live && setOnMap(page.items))
        .catch(() => undefined);
    void load();
    const timer = setInterval(load, 10_000);
    return () => {
      live = false;
      clearInterval(timer);
    };
  }, [clinic.clinic_id]);

  const markers: Marker[] = onMap
    .filter((d) => d.lat !== null && d.lon !== null)
    .map((d) => ({ id: d.doctor_id, kind: "doctor", lat: d.lat!, lon: d.lon!, label: `${d.first_name} ${d.last_name}`.trim() }));

  const detach = async (d: ClinicDoctor) => {
    if (!window.confirm(t("clinic.removeConfirm", { name: `${d.first_name} ${d.last_name}` }))) return;
    setFailure(null);
    try {
      await clinicsApi.removeDoctor(clinic.clinic_id, d.doctor_id);
      list.update((x) => x.doctor_id === d.doctor_id, () => null);
    } catch (exc) {
      setFailure(errorText(t, exc));
    }
  };

  return (
    <main id="main">
      <div class="row">
        <h1>{t("clinic.doctorsTitle")}</h1>
        <Button kind="primary" id="invite-open" onClick={() => setInviting(true)} aria-keyshortcuts="n">
          {t("clinic.inviteOpen")}
        </Button>
      </div>
      {inviting && (
        <InviteDoctor
          clinic={clinic}
          onClose={() => setInviting(false)}
          onAdded={() => void list.reload()}
        />
      )}
      <div class="toolbar" role="search">
        <Field id="doctors-q" label={t("clinic.search")}>
          <input id="doctors-q" type="search" data-search value={q} onInput={(e) => setQ(e.currentTarget.value)} placeholder={t("clinic.searchDoctors")} aria-keyshortcuts="/" />
        </Field>
        <Field id="doctors-verification" label={t("clinic.verification")}>
          <select id="doctors-verification" value={verification} onChange={(e) => setVerification(e.currentTarget.value)}>
            <option value="">{t("clinic.any")}</option>
            <option value="pending">{t("clinic.verificationPending")}</option>
            <option value="verified">{t("clinic.verificationVerified")}</option>
            <option value="rejected">{t("clinic.verificationRejected")}</option>
          </select>
        </Field>
        <Field id="doctors-shift" label={t("clinic.shift")}>
          <select id="doctors-shift" value={onShift} onChange={(e) => setOnShift(e.currentTarget.value)}>
            <option value="">{t("clinic.any")}</option>
            <option value="true">{t("clinic.onShift")}</option>
            <option value="false">{t("clinic.offShift")}</option>
          </select>
        </Field>
      </div>
      <Alert id="doctors-error">{failure}</Alert>
      <div class="split">
        <div>
          <div class="table-wrap">
            <table class="dense" id="doctors">
              <caption class="sr-only">{t("clinic.doctorsTitle")}</caption>
              <thead>
                <tr>
                  <th scope="col">{t("clinic.doctor")}</th>
                  <th scope="col">{t("clinic.specialization")}</th>
                  <th scope="col">{t("clinic.verification")}</th>
                  <th scope="col" class="num">{t("clinic.documents")}</th>
                  <th scope="col">{t("clinic.shift")}</th>
                  <th scope="col" class="num">{t("clinic.visitsCompleted")}</th>
                  <th scope="col">
                    <span class="sr-only">{t("clinic.actions")}</span>
                  </th>
                </tr>
              </thead>
              <tbody>
                {state.items.map((d) => (
                  <tr key={d.doctor_id} data-doctor-id={d.doctor_id}>
                    <td>
                      <a href={`/clinic/doctors/${encodeURIComponent(d.doctor_id)}`}>{`${d.first_name} ${d.last_name}`.trim() || t("doctor.unnamed")}</a>
                      <div class="muted small">{d.email}</div>
                    </td>
                    <td>{d.specialization ? (SPECIALIZATION[d.specialization] ? t(SPECIALIZATION[d.specialization]!) : d.specialization) : "—"}</td>
                    <td>
                      <span class={`badge ${d.verification === "verified" ? "ok" : d.verification === "pending" ? "warn" : ""}`} data-verification={d.verification}>
                        {t(VERIFICATION[d.verification] ?? "clinic.verificationPending")}
                      </span>
                    </td>
                    <td class="num">{t("clinic.documentsCount", { count: d.documents })}</td>
                    <td>
                      {d.on_shift ? (
                        <span class={`badge doctor-${d.status ?? ""}`}>{d.status && DOCTOR_STATUS[d.status] ? t(DOCTOR_STATUS[d.status]!) : t("clinic.onShift")}</span>
                      ) : (
                        <span class="muted">{t("clinic.offShift")}</span>
                      )}
                    </td>
                    <td class="num">{d.visits_completed}</td>
                    <td>
                      <Button class="small" onClick={() => void detach(d)} aria-label={t("clinic.removeNamed", { name: `${d.first_name} ${d.last_name}` })}>
                        {t("clinic.remove")}
                      </Button>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          <LoadMore list={list} id="doctors" count={(n) => t("clinic.doctorsShown", { count: n })} />
        </div>
        <section aria-labelledby="on-shift-title">
          <h2 id="on-shift-title">
            {t("clinic.onShiftNow")} <span id="on-shift-count" data-count={String(onMap.length)}>({t("clinic.doctorsCount", { count: onMap.length })})</span>
          </h2>
          <MapView label={t("clinic.mapLabel")} markers={markers} fit={markers.length > 1 ? markers : []} />
        </section>
      </div>
    </main>
  );
}

function InviteDoctor({ clinic, onClose, onAdded }: { clinic: Clinic; onClose: () => void; onAdded: (answer: AddDoctorAnswer) => void }) {
  const t = useT();
  const [email, setEmail] = useState("");
  const [first, setFirst] = useState("");
  const [last, setLast] = useState("");
  const [spec, setSpec] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [failure, setFailure] = useState<string | null>(null);
  const [answer, setAnswer] = useState<AddDoctorAnswer | null>(null);
  const [busy, setBusy] = useState(false);
  useEffect(() => document.getElementById("invite-email")?.focus(), []);
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => e.key === "Escape" && onClose();
    document.addEventListener("keydown", onKey);
    return () => document.removeEventListener("keydown", onKey);
  }, [onClose]);

  const submit = async (event: Event) => {
    event.preventDefault();
    setFailure(null);
    if (!/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(email.trim())) {
      setError(t("clinic.emailInvalid"));
      document.getElementById("invite-email")?.focus();
      return;
    }
    setError(null);
    setBusy(true);
    try {
      const body: { email: string; first_name?: string; last_name?: string; specialization?: string } = { email: email.trim() };
      if (first.trim()) body.first_name = first.trim();
      if (last.trim()) body.last_name = last.trim();
      if (spec) body.specialization = spec;
      const got = await clinicsApi.addDoctor(clinic.clinic_id, body);
      setAnswer(got);
      onAdded(got);
    } catch (exc) {
      setFailure(exc instanceof ApiError && exc.status === 409 ? t("clinic.inviteConflict", { detail: exc.problem?.detail ?? "" }) : errorText(t, exc));
    } finally {
      setBusy(false);
    }
  };

  const link = answer?.invitation_url ? new URL(answer.invitation_url, window.location.origin).toString() : null;
  return (
    <div class="overlay" role="presentation">
      <div class="dialog" role="dialog" aria-modal="true" aria-labelledby="invite-title" id="invite">
        <h2 id="invite-title">{t("clinic.inviteTitle")}</h2>
        {answer ? (
          <div id="invite-result" data-invited={answer.invited ? "true" : "false"}>
            {answer.invited ? (
              <>
                <p role="status">{t("clinic.invited", { email: answer.doctor.email })}</p>
                <p class="warn">{t("clinic.inviteOnce")}</p>
                <p class="invite-link" id="invite-link">
                  {link}
                </p>
                <Button onClick={() => void navigator.clipboard?.writeText(link ?? "")} id="invite-copy">
                  {t("clinic.copy")}
                </Button>
              </>
            ) : (
              <p role="status">{t("clinic.added", { email: answer.doctor.email })}</p>
            )}
            <div class="row">
              <Button kind="primary" id="invite-done" onClick={onClose}>
                {t("clinic.done")}
              </Button>
            </div>
          </div>
        ) : (
          <form onSubmit={submit} noValidate>
            <p class="muted small">{t("clinic.inviteHint")}</p>
            <Field id="invite-email" label={t("clinic.email")} error={error}>
              <input id="invite-email" type="email" autocomplete="off" value={email} onInput={(e) => setEmail(e.currentTarget.value)} aria-invalid={error ? "true" : undefined} aria-describedby={error ? "invite-email-error" : undefined} />
            </Field>
            <div class="row">
              <Field id="invite-first" label={t("clinic.firstName")}>
                <input id="invite-first" value={first} onInput={(e) => setFirst(e.currentTarget.value)} />
              </Field>
              <Field id="invite-last" label={t("clinic.lastName")}>
                <input id="invite-last" value={last} onInput={(e) => setLast(e.currentTarget.value)} />
              </Field>
            </div>
            <Field id="invite-spec" label={t("clinic.specialization")}>
              <select id="invite-spec" value={spec} onChange={(e) => setSpec(e.currentTarget.value)}>
                <option value="">{t("clinic.any")}</option>
                {Object.entries(SPECIALIZATION).map(([code, key]) => (
                  <option key={code} value={code}>
                    {t(key)}
                  </option>
                ))}
              </select>
            </Field>
            <Alert id="invite-error">{failure}</Alert>
            <div class="row">
              <Button onClick={onClose} id="invite-cancel">
                {t("clinic.cancel")}
              </Button>
              <Button kind="primary" type="submit" id="invite-submit" busy={busy}>
                {t("clinic.inviteSubmit")}
              </Button>
            </div>
          </form>
        )}
      </div>
    </div>
  );
}
