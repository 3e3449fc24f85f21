/** Settings safe to change at run time: how long an offer waits, when the search gives
 * up, the emergency numbers and texts. The server checks the ranges; its problem
 * document's errors are shown under their fields. Every change is audited. */
import { useEffect, useState } from "preact/hooks";
import { Alert, Button, Field, useFocusHeading } from "../../components/ui";
import { errorText } from "../../components/errors";
import { useT } from "../../i18n";
import { ApiError } from "../../lib/http";
import { adminApi, type EmergencyNumber, type PlatformSettings } from "./api";
import { fieldErrors } from "./problems";

type Numbers = "offer_ttl_s" | "emergency_offer_ttl_s" | "give_up_after_s" | "max_offers";

export function PlatformSettingsScreen() {
  const t = useT();
  useFocusHeading("admin-settings");
  const [form, setForm] = useState<PlatformSettings | null>(null);
  const [raw, setRaw] = useState<Record<Numbers, string>>({ offer_ttl_s: "", emergency_offer_ttl_s: "", give_up_after_s: "", max_offers: "" });
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [failure, setFailure] = useState<string | null>(null);
  const [saved, setSaved] = useState(false);
  const [busy, setBusy] = useState(false);

  const take = (s: PlatformSettings) => {
    setForm(s);
    setRaw({
      offer_ttl_s: String(s.offer_ttl_s),
      emergency_offer_ttl_s: s.emergency_offer_ttl_s === null || s.emergency_offer_ttl_s === undefined ? "" : String(s.emergency_offer_ttl_s),
      give_up_after_s: String(s.give_up_after_s),
      max_offers: String(s.max_offers),
    });
  };
  useEffect(() => {
    adminApi.settings().then(take).catch((exc: unknown) => setFailure(errorText(t, exc)));
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, []);

  if (!form) {
    return (
      <main id="main">
        <h1>{t("admin.settingsTitle")}</h1>
        <Alert id="settings-error">{failure}</Alert>
      </main>
    );
  }

  const setNumber = (i: number, patch: Partial<EmergencyNumber>) =>
    setForm((f) => f && { ...f, emergency_numbers: f.emergency_numbers.map((n, j) => (j === i ? { ...n, ...patch } : n)) });

  const save = async (event: Event) => {
    event.preventDefault();
    setFailure(null);
    setSaved(false);
    const found: Record<string, string> = {};
    const numbers: Partial<Record<Numbers, number | null>> = {};
    for (const key of Object.keys(raw) as Numbers[]) {
      const v = raw[key].trim();
      if (key === "emergency_offer_ttl_s" && v === "" && form.emergency_offer_ttl_s === undefined) continue;
      if (key === "emergency_offer_ttl_s" && v === "") {
        numbers[key] = null;
        continue;
      }
      // Seconds may have a fraction; the number of offers is whole.
      if (!(key === "max_offers" ? /^\d+$/ : /^\d+([.,]\d+)?$/).test(v)) found[key] = t(key === "max_offers" ? "admin.wholeNumber" : "admin.numberExpected");
      else numbers[key] = Number(v.replace(",", "."));
    }
    setErrors(found);
    if (Object.keys(found).length) {
      document.getElementById(`set-${Object.keys(found)[0]}`)?.focus();
      return;
    }
    setBusy(true);
    try {
      const body: Partial<PlatformSettings> = {
        ...(numbers as Partial<PlatformSettings>),
        emergency_numbers: form.emergency_numbers.map((n) => ({ label_ru: n.label_ru.trim(), label_en: n.label_en.trim(), number: n.number.trim() })),
        emergency_text_ru: form.emergency_text_ru,
        emergency_text_en: form.emergency_text_en,
      };
      take(await adminApi.saveSettings(body));
      setSaved(true);
    } catch (exc) {
      if (exc instanceof ApiError && (exc.status === 422 || exc.status === 400)) setErrors(fieldErrors(exc.problem));
      setFailure(errorText(t, exc));
    } finally {
      setBusy(false);
    }
  };

  const err = (key: string) => errors[key] ?? null;
  const aria = (key: string, id: string) => ({
    "aria-invalid": errors[key] ? ("true" as const) : undefined,
    "aria-describedby": errors[key] ? `${id}-error` : undefined,
  });
  const numberField = (key: Numbers, label: string, hint: string) => (
    <Field id={`set-${key}`} label={label} error={err(key)} hint={hint}>
      <input id={`set-${key}`} inputMode="numeric" value={raw[key]} onInput={(e) => setRaw((r) => ({ ...r, [key]: e.currentTarget.value }))} {...aria(key, `set-${key}`)} />
    </Field>
  );

  return (
    <main id="main">
      <h1>{t("admin.settingsTitle")}</h1>
      <form onSubmit={save} noValidate id="platform-settings">
        <div class="split">
          <section class="panel" aria-labelledby="set-dispatch">
            <h2 id="set-dispatch">{t("admin.dispatchSettings")}</h2>
            {numberField("offer_ttl_s", t("admin.offerTtl"), t("admin.seconds"))}
            {form.emergency_offer_ttl_s !== undefined && numberField("emergency_offer_ttl_s", t("admin.emergencyOfferTtl"), t("admin.emergencyOfferTtlHint"))}
            {numberField("give_up_after_s", t("admin.giveUpAfter"), t("admin.seconds"))}
            {numberField("max_offers", t("admin.maxOffers"), t("admin.maxOffersHint"))}
          </section>
          <section class="panel" aria-labelledby="set-emergency">
            <h2 id="set-emergency">{t("admin.emergencySettings")}</h2>
            <table class="dense" id="emergency-numbers">
              <thead>
                <tr>
                  <th scope="col">{t("admin.labelRu")}</th>
                  <th scope="col">{t("admin.labelEn")}</th>
                  <th scope="col">{t("admin.number")}</th>
                  <th scope="col">
                    <span class="sr-only">{t("clinic.actions")}</span>
                  </th>
                </tr>
              </thead>
              <tbody>
                {form.emergency_numbers.map((n, i) => (
                  <tr key={i}>
                    {(["label_ru", "label_en", "number"] as const).map((k) => {
                      const key = `emergency_numbers.${i}.${k}`;
                      const id = `set-en-${i}-${k}`;
                      return (
                        <td key={k}>
                          <input
                            id={id}
                            aria-label={t(k === "label_ru" ? "admin.labelRu" : k === "label_en" ? "admin.labelEn" : "admin.number") + ` ${i + 1}`}
                            value={n[k]}
                            onInput={(e) => setNumber(i, { [k]: e.currentTarget.value })}
                            {...aria(key, id)}
                          />
                          {errors[key] && (
                            <p class="error" id={`${id}-error`} role="alert">
                              {errors[key]}
                            </p>
                          )}
                        </td>
                      );
                    })}
                    <td>
                      <Button id={`set-en-remove-${i}`} onClick={() => setForm((f) => f && { ...f, emergency_numbers: f.emergency_numbers.filter((_, j) => j !== i) })}>
                        {t("admin.remove")}
                      </Button>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
            {errors.emergency_numbers && !Object.keys(errors).some((k) => k.startsWith("emergency_numbers.")) && (
              <p class="error" role="alert" id="set-emergency_numbers-error">
                {errors.emergency_numbers}
              </p>
            )}
            <Button id="set-en-add" onClick={() => setForm((f) => f && { ...f, emergency_numbers: [...f.emergency_numbers, { label_ru: "", label_en: "", number: "" }] })}>
              {t("admin.addNumber")}
            </Button>
            <Field id="set-text-ru" label={t("admin.textRu")} error={err("emergency_text_ru")}>
              <textarea id="set-text-ru" lang="ru" rows={3} value={form.emergency_text_ru} onInput={(e) => setForm((f) => f && { ...f, emergency_text_ru: e.currentTarget.value })} {...aria("emergency_text_ru", "set-text-ru")} />
            </Field>
            <Field id="set-text-en" label={t("admin.textEn")} error={err("emergency_text_en")}>
              <textarea id="set-text-en" lang="en" rows={3} value={form.emergency_text_en} onInput={(e) => setForm((f) => f && { ...f, emergency_text_en: e.currentTarget.value })} {...aria("emergency_text_en", "set-text-en")} />
            </Field>
          </section>
        </div>
        <Alert id="settings-error">{failure}</Alert>
        {saved && (
          <p class="info" role="status" id="settings-saved">
            {t("admin.savedAudited")}
          </p>
        )}
        <Button kind="primary" type="submit" id="settings-save" busy={busy}>
          {t("clinic.save")}
        </Button>
      </form>
    </main>
  );
}
