import { useEffect, useMemo, useRef, useState } from "preact/hooks";
import { errorText } from "../../components/errors";
import { Alert, Button, Field, useFocusHeading } from "../../components/ui";
import { useLocale, useT } from "../../i18n";
import { formatDistance, formatDuration, formatMoney, formatRating } from "../../i18n/format";
import { LANGUAGE } from "../../i18n/words";
import { ApiError, newKey } from "../../lib/http";
import { navigate } from "../../lib/router";
import type { User } from "../auth/types";
import { AddressSearch, type PickedAddress } from "../geocode/AddressSearch";
import { reverseAddress } from "../geocode/api";
import { mapInfo } from "../map/api";
import { MapView } from "../map/MapView";
import { MethodChoice } from "../payments/MethodChoice";
import type { LatLon, Marker } from "../map/types";
import { availableDoctors, createBooking, estimate } from "./api";
import { useWords } from "./components";
import type { AvailableDoctor, Estimate } from "./types";
import { checkVisit, visitRequest, type VisitForm } from "./visitForm";

export function NewVisit({ user, later }: { user: User; later: boolean }) {
  const t = useT();
  const locale = useLocale();
  const words = useWords();
  useFocusHeading(later ? "new-later" : "new-now");
  const [form, setForm] = useState<VisitForm>({
    address: "",
    point: null,
    symptoms: "",
    callType: "home_visit",
    child: false,
    when: later ? "later" : "now",
    scheduledAt: "",
    language: "",
    doctorId: null,
    othersIfDeclined: true,
    paymentMethod: "card",
  });
  const [errors, setErrors] = useState<ReturnType<typeof checkVisit>>({});
  const [center, setCenter] = useState<LatLon | null>(null);
  const [quote, setQuote] = useState<Estimate | null>(null);
  const [quoteError, setQuoteError] = useState<string | null>(null);
  const [doctors, setDoctors] = useState<AvailableDoctor[] | null>(null);
  const [doctorsError, setDoctorsError] = useState<string | null>(null);
  const [failure, setFailure] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const key = useRef<string | null>(null);
  const set = (patch: Partial<VisitForm>) => {
    key.current = null; // a changed form is a new request, not a retry
    setForm((f) => ({ ...f, ...patch }));
  };

  useEffect(() => {
    mapInfo().then((info) => setCenter(info.center)).catch(() => setCenter(null));
  }, []);

  useEffect(() => {
    setForm((f) => ({ ...f, when: later ? "later" : "now" }));
  }, [later]);

  // The price, the road ETA and how many doctors are free, for this place and kind.
  const point = form.point;
  useEffect(() => {
    if (!point) return;
    const controller = new AbortController();
    const timer = setTimeout(() => {
      estimate(visitRequest({ ...form, point }), controller.signal)
        .then((q) => {
          setQuote(q);
          setQuoteError(null);
          // Only the ways this clinic takes: card first when it is one of them.
          const offered = q.payment_methods ?? [];
          setForm((f) => (offered.length && !offered.includes(f.paymentMethod ?? "card") ? { ...f, paymentMethod: offered[0] } : f));
        })
        .catch((exc) => {
          if (!controller.signal.aborted) setQuoteError(errorText(t, exc));
        });
    }, 200);
    return () => {
      clearTimeout(timer);
      controller.abort();
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [point?.lat, point?.lon, form.callType]);

  // The doctors free now who fit.
  useEffect(() => {
    if (!point || form.when !== "now") {
      setDoctors(null);
      return;
    }
    const controller = new AbortController();
    availableDoctors(
      { lat: point.lat, lon: point.lon, call_type: form.callType, child: form.child, language: form.language || undefined },
      controller.signal,
    )
      .then((list) => {
        setDoctors(list);
        setDoctorsError(null);
        if (form.doctorId && !list.some((d) => d.doctor_id === form.doctorId)) setForm((f) => ({ ...f, doctorId: null }));
      })
      .catch((exc) => {
        if (controller.signal.aborted) return;
        setDoctors(null);
        setDoctorsError(exc instanceof ApiError && exc.status === 404 ? t("doctors.notOffered") : errorText(t, exc));
      });
    return () => controller.abort();
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [point?.lat, point?.lon, form.callType, form.child, form.language, form.when]);

  const pickOnMap = async (p: LatLon) => {
    set({ point: p });
    setErrors((e) => ({ ...e, address: undefined }));
    try {
      const place = await reverseAddress(p, locale);
      setForm((f) => ({ ...f, address: place ? place.label : t("visit.pinnedPlace") }));
    } catch {
      setForm((f) => ({ ...f, address: f.address || t("visit.pinnedPlace") }));
    }
  };

  const submit = async (event: Event) => {
    event.preventDefault();
    setFailure(null);
    const found = checkVisit(form, Date.now());
    setErrors(found);
    const first = Object.keys(found)[0];
    if (first) {
      document.getElementById(`visit-${first}`)?.focus();
      return;
    }
    key.current = key.current ?? newKey(); // the same key on a retry: no second booking
    setBusy(true);
    try {
      const booking = await createBooking(visitRequest(form), key.current);
      key.current = null;
      navigate(`/patient/visits/${encodeURIComponent(booking.id)}`);
    } catch (exc) {
      setFailure(errorText(t, exc));
    } finally {
      setBusy(false);
    }
  };

  const markers: Marker[] = useMemo(
    () => (form.point ? [{ id: "pin", kind: "pin", lat: form.point.lat, lon: form.point.lon, label: t("map.visitHere") }] : []),
    [form.point, t],
  );
  const fit = useMemo(() => (form.point ? [form.point] : []), [form.point]);
  const saved = user.saved_addresses ?? [];
  const minTime = toLocalInput(new Date(Date.now() + 35 * 60 * 1000));

  return (
    <main id="main" class="with-map">
      <h1>{later ? t("visit.titleLater") : t("visit.titleNow")}</h1>
      <form onSubmit={submit} noValidate class="visit-form" aria-describedby="visit-failure">
        <section class="card" aria-labelledby="where-title">
          <h2 id="where-title">{t("visit.where")}</h2>
          <Field id="visit-address" label={t("visit.address")} error={errors.address ? t(errors.address) : null} hint={t("visit.addressHint")}>
            <AddressSearch
              id="visit-address"
              value={form.address}
              near={form.point ?? center}
              saved={saved}
              required
              invalid={Boolean(errors.address)}
              describedBy={errors.address ? "visit-address-error" : "visit-address-hint"}
              onText={(address) => setForm((f) => ({ ...f, address, point: address === f.address ? f.point : null }))}
              onPick={(p: PickedAddress) => {
                set({ point: { lat: p.lat, lon: p.lon }, address: p.label });
                setErrors((e) => ({ ...e, address: undefined }));
              }}
            />
          </Field>
          <MapView label={t("map.pickLabel")} markers={markers} fit={fit} onPick={pickOnMap} className="pick-map" />
        </section>

        <section class="card" aria-labelledby="what-title">
          <h2 id="what-title">{t("visit.what")}</h2>
          <fieldset>
            <legend>{t("visit.callType")}</legend>
            {(["home_visit", "urgent", "consultation"] as const).map((c) => (
              <label key={c} class="choice">
                <input type="radio" name="call-type" value={c} checked={form.callType === c} onChange={() => set({ callType: c })} />
                {words.callType(c)}
              </label>
            ))}
          </fieldset>
          <fieldset>
            <legend>{t("visit.forWhom")}</legend>
            <label class="choice">
              <input type="radio" name="who" id="visit-adult" checked={!form.child} onChange={() => set({ child: false })} />
              {t("visit.adult")}
            </label>
            <label class="choice">
              <input type="radio" name="who" id="visit-child" checked={form.child} onChange={() => set({ child: true })} />
              {t("visit.child")}
            </label>
          </fieldset>
          <Field id="visit-symptoms" label={t("visit.symptoms")} error={errors.symptoms ? t(errors.symptoms) : null} hint={t("visit.symptomsHint")}>
            <textarea
              id="visit-symptoms"
              rows={3}
              maxLength={4000}
              value={form.symptoms}
              aria-describedby={errors.symptoms ? "visit-symptoms-error" : "visit-symptoms-hint"}
              onInput={(e) => set({ symptoms: (e.target as HTMLTextAreaElement).value })}
            />
          </Field>
          <Field id="visit-language" label={t("visit.language")}>
            <select id="visit-language" value={form.language} onChange={(e) => set({ language: (e.target as HTMLSelectElement).value })}>
              <option value="">{t("visit.anyLanguage")}</option>
              {["ru", "en"].map((l) => (
                <option key={l} value={l}>
                  {t(LANGUAGE[l]!)}
                </option>
              ))}
            </select>
          </Field>
        </section>

        <section class="card" aria-labelledby="when-title">
          <h2 id="when-title">{t("visit.when")}</h2>
          <fieldset>
            <legend class="sr-only">{t("visit.when")}</legend>
            <label class="choice">
              <input type="radio" name="when" id="visit-now" checked={form.when === "now"} onChange={() => set({ when: "now" })} />
              {t("visit.now")}
            </label>
            <label class="choice">
              <input type="radio" name="when" id="visit-later" checked={form.when === "later"} onChange={() => set({ when: "later" })} />
              {t("visit.later")}
            </label>
          </fieldset>
          {form.when === "later" && (
            <Field id="visit-scheduledAt" label={t("visit.time")} error={errors.scheduledAt ? t(errors.scheduledAt) : null}>
              <input
                id="visit-scheduledAt"
                type="datetime-local"
                min={minTime}
                value={form.scheduledAt}
                aria-invalid={errors.scheduledAt ? "true" : undefined}
                aria-describedby={errors.scheduledAt ? "visit-scheduledAt-error" : undefined}
                onInput={(e) => set({ scheduledAt: (e.target as HTMLInputElement).value })}
              />
            </Field>
          )}
        </section>

        <section class="card estimate" aria-labelledby="estimate-title" aria-live="polite" id="estimate">
          <h2 id="estimate-title">{t("visit.estimate")}</h2>
          {!form.point && <p class="muted">{t("visit.estimateNeedsAddress")}</p>}
          {form.point && quote && (
            <dl class="figures">
              <div>
                <dt>{t("visit.price")}</dt>
                <dd id="estimate-price">{formatMoney(quote.price_kopecks, quote.currency, locale)}</dd>
              </div>
              <div>
                <dt>{t("visit.eta")}</dt>
                <dd id="estimate-eta">{quote.eta_s === null ? t("visit.noDoctorNow") : formatDuration(quote.eta_s, locale)}</dd>
              </div>
              <div>
                <dt>{t("visit.available")}</dt>
                <dd id="estimate-available" data-count={String(quote.doctors_available)}>
                  {t("visit.doctorsCount", { count: quote.doctors_available })}
                </dd>
              </div>
            </dl>
          )}
          <Alert>{quoteError}</Alert>
        </section>

        {form.point && quote && (quote.payment_methods ?? []).length > 0 && (
          <MethodChoice
            methods={quote.payment_methods}
            value={form.paymentMethod ?? "card"}
            onChange={(m) => set({ paymentMethod: m })}
            priceKopecks={quote.price_kopecks}
            capKopecks={quote.extras_cap_kopecks ?? 0}
            currency={quote.currency}
          />
        )}

        {form.when === "now" && form.point && (
          <section class="card" aria-labelledby="doctors-title" id="doctors">
            <h2 id="doctors-title">{t("doctors.title")}</h2>
            <fieldset>
              <legend class="sr-only">{t("doctors.title")}</legend>
              <label class="choice doctor-choice">
                <input type="radio" name="doctor" id="doctor-any" checked={form.doctorId === null} onChange={() => set({ doctorId: null })} />
                <span>{t("doctors.any")}</span>
              </label>
              {(doctors ?? []).map((d) => (
                <label key={d.doctor_id} class="choice doctor-choice" data-doctor-id={d.doctor_id}>
                  <input
                    type="radio"
                    name="doctor"
                    value={d.doctor_id}
                    checked={form.doctorId === d.doctor_id}
                    onChange={() => set({ doctorId: d.doctor_id })}
                  />
                  <span>
                    <b>{t("doctor.title", { name: `${d.first_name} ${d.last_name}`.trim() })}</b>
                    <small>
                      {[
                        words.specialization(d.specialization),
                        d.languages.map(words.language).join(", "),
                        d.rating !== null ? t("doctor.rating", { rating: formatRating(d.rating, locale) }) : t("doctor.noRating"),
                      ]
                        .filter(Boolean)
                        .join(" · ")}
                    </small>
                    <small>{t("doctors.etaDistance", { eta: formatDuration(d.eta_s, locale), distance: formatDistance(d.distance_m, locale) })}</small>
                  </span>
                </label>
              ))}
            </fieldset>
            {doctors !== null && doctors.length === 0 && <p class="muted">{t("doctors.none")}</p>}
            <Alert kind="info">{doctorsError}</Alert>
            {form.doctorId && (
              <label class="choice">
                <input type="checkbox" id="others-if-declined" checked={form.othersIfDeclined} onChange={(e) => set({ othersIfDeclined: (e.target as HTMLInputElement).checked })} />
                {t("doctors.othersIfDeclined")}
              </label>
            )}
          </section>
        )}

        <Alert id="visit-failure">{failure}</Alert>
        <div class="sticky-submit">
          <Button type="submit" kind="primary" id="visit-submit" busy={busy}>
            {form.when === "later" ? t("visit.submitLater") : t("visit.submitNow")}
          </Button>
        </div>
      </form>
    </main>
  );
}

function toLocalInput(d: Date): string {
  const pad = (n: number) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}
