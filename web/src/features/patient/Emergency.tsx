import { useEffect, useRef, useState } from "preact/hooks";
import { errorText } from "../../components/errors";
import { Alert, Button, Field, useFocusHeading } from "../../components/ui";
import { useLocale, useT } from "../../i18n";
import { api, newKey } from "../../lib/http";
import { navigate } from "../../lib/router";
import type { User } from "../auth/types";
import { AddressSearch, type PickedAddress } from "../geocode/AddressSearch";
import { reverseAddress } from "../geocode/api";
import { createBooking } from "./api";
import { useWords } from "./components";

export interface EmergencyContacts {
  numbers: { label_ru: string; label_en: string; number: string }[];
  text_ru: string;
  text_en: string;
}

/** What admins set (`/emergency/contacts`); 103 and 112 with the catalogue's text until it
 * answers, or when it cannot (offline: the numbers must show whatever happens). */
function useEmergencyContacts(): EmergencyContacts | null {
  const [contacts, setContacts] = useState<EmergencyContacts | null>(null);
  useEffect(() => {
    let live = true;
    api<EmergencyContacts>("/emergency/contacts")
      .then((c) => live && c.numbers.length > 0 && setContacts(c))
      .catch(() => undefined);
    return () => {
      live = false;
    };
  }, []);
  return contacts;
}

const FALLBACK_NUMBERS = ["103", "112"];

const EMERGENCY_TYPES = ["chest_pain", "breathing_difficulty", "stroke_signs", "unconscious", "severe_bleeding", "fire_or_accident"] as const;

/** First the public emergency numbers (a tap dials), then, if the patient wants, an
 * emergency booking for a TOT doctor as well. */
export function Emergency({ user }: { user: User }) {
  const t = useT();
  const locale = useLocale();
  const words = useWords();
  useFocusHeading("emergency");
  const [step, setStep] = useState<"call" | "book">("call");
  const [text, setText] = useState("");
  const [place, setPlace] = useState<PickedAddress | null>(null);
  const [kind, setKind] = useState<string>("");
  const [failure, setFailure] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const key = useRef<string | null>(null);
  const contacts = useEmergencyContacts();

  const here = () => {
    if (!("geolocation" in navigator)) {
      setFailure(t("emergency.noLocation"));
      return;
    }
    navigator.geolocation.getCurrentPosition(
      async (p) => {
        const point = { lat: p.coords.latitude, lon: p.coords.longitude };
        const found = await reverseAddress(point, locale).catch(() => null);
        const label = found?.label ?? t("visit.pinnedPlace");
        setText(label);
        setPlace({ ...point, label });
      },
      () => setFailure(t("emergency.noLocation")),
      { enableHighAccuracy: true, timeout: 15_000 },
    );
  };

  const book = async (event: Event) => {
    event.preventDefault();
    setFailure(null);
    if (!place) {
      setFailure(t("visit.addressRequired"));
      return;
    }
    key.current = key.current ?? newKey();
    setBusy(true);
    try {
      const booking = await createBooking(
        {
          latitude: Number(place.lat.toFixed(6)),
          longitude: Number(place.lon.toFixed(6)),
          address: place.label,
          symptoms: kind ? words.callType(kind) : "",
          call_type: "urgent",
          priority: "urgent",
          is_emergency: true,
          emergency_type: kind || null,
        },
        key.current,
      );
      navigate(`/patient/visits/${encodeURIComponent(booking.id)}`);
    } catch (exc) {
      setFailure(errorText(t, exc));
    } finally {
      setBusy(false);
    }
  };

  return (
    <main id="main" class="emergency-screen">
      <h1>{t("emergency.title")}</h1>
      <section class="card danger" aria-labelledby="call-title">
        <h2 id="call-title">{t("emergency.callFirst")}</h2>
        <p id="emergency-advice">{contacts ? (locale === "ru" ? contacts.text_ru : contacts.text_en) : t("emergency.callText")}</p>
        <div class="dial">
          {(contacts?.numbers ?? FALLBACK_NUMBERS.map((number) => ({ number, label_ru: "", label_en: "" }))).map((n) => (
            <a class="btn danger big" href={`tel:${n.number}`} id={`dial-${n.number.replace(/\D/g, "")}`} key={n.number} title={(locale === "ru" ? n.label_ru : n.label_en) || undefined}>
              {t("emergency.dial", { number: n.number })}
            </a>
          ))}
        </div>
        {step === "call" && (
          <Button id="emergency-continue" onClick={() => setStep("book")}>
            {t("emergency.alsoDoctor")}
          </Button>
        )}
      </section>
      {step === "book" && (
        <form class="card" onSubmit={book} noValidate aria-labelledby="eb-title">
          <h2 id="eb-title">{t("emergency.bookTitle")}</h2>
          <Field id="emergency-address" label={t("visit.address")}>
            <AddressSearch id="emergency-address" value={text} near={null} saved={user.saved_addresses ?? []} onText={(v) => { setText(v); setPlace(null); }} onPick={setPlace} required />
          </Field>
          <Button id="emergency-here" onClick={here}>
            {t("emergency.useLocation")}
          </Button>
          <Field id="emergency-kind" label={t("emergency.what")}>
            <select id="emergency-kind" value={kind} onChange={(e) => setKind((e.target as HTMLSelectElement).value)}>
              <option value="">{t("emergency.other")}</option>
              {EMERGENCY_TYPES.map((k) => (
                <option key={k} value={k}>
                  {words.callType(k)}
                </option>
              ))}
            </select>
          </Field>
          <Alert id="emergency-failure">{failure}</Alert>
          <Button type="submit" kind="danger" id="emergency-submit" busy={busy}>
            {t("emergency.submit")}
          </Button>
        </form>
      )}
    </main>
  );
}
