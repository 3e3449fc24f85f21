import { useEffect, useRef, useState } from "preact/hooks";
import { Alert, Button, Field, useNow } from "../../components/ui";
import { useLocale, useT, type MessageKey } from "../../i18n";
import { formatDuration } from "../../i18n/format";
import { navigate } from "../../lib/router";
import { useStore } from "../../lib/store";
import { useWords } from "../patient/components";
import { acceptOffer, declineOffer, doctor$ } from "./store";

const DECLINE_REASONS: { code: string; key: MessageKey }[] = [
  { code: "far", key: "decline.far" },
  { code: "busy", key: "decline.busy" },
  { code: "specialty", key: "decline.specialty" },
  { code: "ending", key: "decline.ending" },
  { code: "other", key: "decline.other" },
];

/** The offer waiting: a countdown, the visit in plain words, accept or decline. */
export function OfferDialog() {
  const t = useT();
  const locale = useLocale();
  const words = useWords();
  const { offer } = useStore(doctor$);
  const now = useNow(250);
  const [declining, setDeclining] = useState(false);
  const [reason, setReason] = useState("");
  const [other, setOther] = useState("");
  const [failure, setFailure] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const dialog = useRef<HTMLDivElement>(null);

  useEffect(() => {
    setDeclining(false);
    setReason("");
    setFailure(null);
    if (offer) dialog.current?.querySelector<HTMLElement>("#offer-accept")?.focus();
  }, [offer?.offer_id]);

  if (!offer) return null;
  const left = Math.max(0, Math.ceil((offer.deadline - now) / 1000));

  const accept = async () => {
    setBusy(true);
    setFailure(null);
    try {
      const id = await acceptOffer();
      navigate(`/doctor/visit/${encodeURIComponent(id)}`);
    } catch {
      setFailure(t("offer.acceptFailed"));
    } finally {
      setBusy(false);
    }
  };
  const decline = async (event: Event) => {
    event.preventDefault();
    const text = reason === "other" ? other.trim() : reason ? t(DECLINE_REASONS.find((r) => r.code === reason)!.key) : "";
    if (!text) {
      setFailure(t("decline.chooseReason"));
      return;
    }
    setBusy(true);
    try {
      await declineOffer(text);
    } catch {
      setFailure(t("offer.declineFailed"));
    } finally {
      setBusy(false);
    }
  };

  return (
    <div class="overlay">
      <div
        ref={dialog}
        class={`dialog offer${offer.is_emergency ? " emergency" : ""}`}
        role="alertdialog"
        aria-modal="true"
        aria-labelledby="offer-title"
        aria-describedby="offer-summary"
        id="offer"
        data-offer-id={offer.offer_id}
        data-booking-id={offer.booking_id}
        onKeyDown={(e) => {
          if (e.key === "Escape") setDeclining(true);
        }}
      >
        <h2 id="offer-title">{offer.is_emergency ? t("offer.emergencyTitle") : t("offer.title")}</h2>
        <p class="countdown" id="offer-ttl" data-seconds={String(left)} aria-live="off">
          {t("offer.secondsLeft", { seconds: left })}
        </p>
        {offer.chosen && (
          <p class="chosen" id="offer-chosen">
            {t("offer.chosen")}
          </p>
        )}
        <dl class="details" id="offer-summary">
          <dt>{t("visit.callType")}</dt>
          <dd id="offer-type">{words.callType(offer.call_type)}</dd>
          <dt>{t("visit.address")}</dt>
          <dd id="offer-address">{offer.address || t("visit.noAddress")}</dd>
          <dt>{t("offer.eta")}</dt>
          <dd id="offer-eta">{formatDuration(offer.eta_s, locale)}</dd>
          <dt>{t("offer.patient")}</dt>
          <dd id="offer-patient">{offer.patient_is_child ? t("offer.child") : t("offer.adult")}</dd>
          {offer.language && (
            <>
              <dt>{t("offer.language")}</dt>
              <dd id="offer-language">{words.language(offer.language)}</dd>
            </>
          )}
          {offer.symptoms && (
            <>
              <dt>{t("visit.symptoms")}</dt>
              <dd id="offer-symptoms">{offer.symptoms}</dd>
            </>
          )}
        </dl>
        <Alert id="offer-error">{failure}</Alert>
        {!declining ? (
          <div class="row">
            <Button kind="primary" id="offer-accept" busy={busy} onClick={() => void accept()}>
              {t("offer.accept")}
            </Button>
            <Button id="offer-decline" onClick={() => setDeclining(true)}>
              {t("offer.decline")}
            </Button>
          </div>
        ) : (
          <form onSubmit={decline} noValidate>
            <Field id="decline-reason" label={t("decline.reason")}>
              <select id="decline-reason" value={reason} onChange={(e) => setReason((e.target as HTMLSelectElement).value)}>
                <option value="">{t("cancel.choose")}</option>
                {DECLINE_REASONS.map((r) => (
                  <option key={r.code} value={r.code}>
                    {t(r.key)}
                  </option>
                ))}
              </select>
            </Field>
            {reason === "other" && (
              <Field id="decline-other" label={t("cancel.otherText")}>
                <input id="decline-other" maxLength={1000} value={other} onInput={(e) => setOther((e.target as HTMLInputElement).value)} />
              </Field>
            )}
            <div class="row">
              <Button type="submit" kind="danger" id="decline-submit" busy={busy}>
                {t("decline.submit")}
              </Button>
              <Button onClick={() => setDeclining(false)}>{t("decline.back")}</Button>
            </div>
          </form>
        )}
      </div>
    </div>
  );
}
