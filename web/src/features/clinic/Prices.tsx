/** The price list: services, extras (and their cap), surcharges, the cancellation policy,
 * tax, the ways to pay; the platform's commission (an admin sets it; a clinic's admin
 * sees it). Money is typed in roubles ("3500,50" or "3500.50") and sent as integer
 * kopecks, read from the text exactly (features/payments/money.ts). */
import type { ComponentChildren } from "preact";
import { useEffect, useState } from "preact/hooks";
import { errorText } from "../../components/errors";
import { Alert, Button, Spinner, useFocusHeading } from "../../components/ui";
import { useLocale, useT, type MessageKey } from "../../i18n";
import { formatMoney } from "../../i18n/format";
import { CALL_TYPE } from "../../i18n/words";
import { paymentsApi } from "../payments/api";
import { fromForm, rowKey, toForm, type FormErrors, type PriceForm } from "../payments/priceForm";
import type { Method, PriceList } from "../payments/types";
import { METHOD_HINT, METHOD_WORD } from "../payments/words";

const CALL_TYPES = ["home_visit", "urgent", "consultation"];
const VAT: Record<number, MessageKey> = { 1: "prices.vat1", 2: "prices.vat2", 3: "prices.vat3", 4: "prices.vat4", 5: "prices.vat5", 6: "prices.vat6" };
const TAX_SYSTEM: Record<number, MessageKey> = { 1: "prices.tax1", 2: "prices.tax2", 3: "prices.tax3", 4: "prices.tax4", 5: "prices.tax5", 6: "prices.tax6" };

/** An input in a table's cell: labelled for screen readers, its error under it. */
function Cell({ id, label, value, onInput, error, numeric = false, width }: { id: string; label: string; value: string; onInput: (v: string) => void; error?: string; numeric?: boolean; width?: string }) {
  return (
    <>
      <input
        id={id}
        aria-label={label}
        value={value}
        size={width ? Number(width) : undefined}
        inputMode={numeric ? "decimal" : undefined}
        class={numeric ? "num" : undefined}
        aria-invalid={error ? "true" : undefined}
        aria-describedby={error ? `${id}-error` : undefined}
        onInput={(e) => onInput(e.currentTarget.value)}
      />
      {error && (
        <p class="error small" id={`${id}-error`}>
          {error}
        </p>
      )}
    </>
  );
}

/** A labelled input outside a table. */
function Input({ id, label, value, onInput, error, suffix, disabled = false }: { id: string; label: string; value: string; onInput: (v: string) => void; error?: string; suffix?: string; disabled?: boolean }) {
  return (
    <div class={`field${error ? " invalid" : ""}`}>
      <label for={id}>
        {label}
        {suffix ? `, ${suffix}` : ""}
      </label>
      <input
        id={id}
        value={value}
        inputMode="decimal"
        disabled={disabled}
        aria-invalid={error ? "true" : undefined}
        aria-describedby={error ? `${id}-error` : undefined}
        onInput={(e) => onInput(e.currentTarget.value)}
      />
      {error && (
        <p class="error" id={`${id}-error`} role="alert">
          {error}
        </p>
      )}
    </div>
  );
}

export function PricesScreen({ clinicId, canSetCommission = false, title, children }: { clinicId: string | null; canSetCommission?: boolean; title?: string; children?: ComponentChildren }) {
  const t = useT();
  const locale = useLocale();
  useFocusHeading(`prices-${clinicId ?? "default"}`);
  const [list, setList] = useState<PriceList | null>(null);
  const [form, setForm] = useState<PriceForm | null>(null);
  const [errors, setErrors] = useState<FormErrors>({});
  const [failure, setFailure] = useState<string | null>(null);
  const [saved, setSaved] = useState(false);
  const [busy, setBusy] = useState(false);

  useEffect(() => {
    paymentsApi
      .prices(clinicId)
      .then((pl) => {
        setList(pl);
        setForm(toForm(pl, locale));
      })
      .catch((exc: unknown) => setFailure(errorText(t, exc)));
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [clinicId]);

  const e = (id: string) => (errors[id] ? t(errors[id]!) : undefined);
  const set = (patch: Partial<PriceForm>) => {
    setSaved(false);
    setFailure(null);
    setForm((f) => (f ? { ...f, ...patch } : f));
  };

  const save = async (event: Event) => {
    event.preventDefault();
    if (!form) return;
    setFailure(null);
    setSaved(false);
    const out = fromForm(form, { withCommission: canSetCommission });
    if (!out.ok) {
      setErrors(out.errors);
      const first = Object.keys(out.errors)[0]!;
      (document.getElementById(first) ?? document.getElementById("prices-error"))?.focus();
      setFailure(t("prices.fix", { count: Object.keys(out.errors).length }));
      return;
    }
    setErrors({});
    setBusy(true);
    try {
      const pl = await paymentsApi.savePrices(clinicId, out.body);
      setList(pl);
      setForm(toForm(pl, locale));
      setSaved(true);
    } catch (exc) {
      setFailure(errorText(t, exc));
    } finally {
      setBusy(false);
    }
  };

  if (!form || !list) {
    return (
      <main id="main">
        <h1>{title ?? t("prices.title")}</h1>
        {children}
        {failure ? <Alert id="prices-error">{failure}</Alert> : <Spinner label={t("app.loading")} />}
      </main>
    );
  }
  const money = (k: number) => formatMoney(k, list.currency, locale);
  const rub = t("prices.rub");

  return (
    <main id="main">
      <h1>{title ?? t("prices.title")}</h1>
      {children}
      <p id="prices-own" data-own={list.own ? "true" : "false"} class="muted">
        {list.own ? t("prices.own") : t("prices.default")}
      </p>
      <form onSubmit={save} noValidate aria-labelledby="prices-form-title" id="prices-form">
        <h2 id="prices-form-title" class="sr-only">
          {title ?? t("prices.title")}
        </h2>
        <section class="panel" aria-labelledby="prices-services-title">
          <h2 id="prices-services-title">{t("prices.services")}</h2>
          <div class="table-wrap">
            <table class="dense" id="prices-services">
              <thead>
                <tr>
                  <th scope="col">{t("prices.code")}</th>
                  <th scope="col">{t("prices.callType")}</th>
                  <th scope="col">{t("prices.specialty")}</th>
                  <th scope="col">{t("prices.nameRu")}</th>
                  <th scope="col">{t("prices.nameEn")}</th>
                  <th scope="col" class="num">{t("prices.priceRub")}</th>
                  <th scope="col">
                    <span class="sr-only">{t("prices.actions")}</span>
                  </th>
                </tr>
              </thead>
              <tbody>
                {form.services.map((s, i) => {
                  const edit = (patch: Partial<typeof s>) => set({ services: form.services.map((x, j) => (j === i ? { ...x, ...patch } : x)) });
                  const row = t("prices.row", { n: i + 1 });
                  return (
                    <tr key={s.key} data-code={s.code}>
                      <td>
                        <Cell id={`svc-${i}-code`} label={`${t("prices.code")} (${row})`} value={s.code} onInput={(v) => edit({ code: v })} error={e(`svc-${i}-code`)} width="12" />
                      </td>
                      <td>
                        <select id={`svc-${i}-call_type`} aria-label={`${t("prices.callType")} (${row})`} value={s.call_type} onChange={(ev) => edit({ call_type: ev.currentTarget.value })}>
                          {[...new Set([...CALL_TYPES, s.call_type])].map((c) => (
                            <option key={c} value={c}>
                              {CALL_TYPE[c] ? t(CALL_TYPE[c]!) : c}
                            </option>
                          ))}
                        </select>
                      </td>
                      <td>
                        <Cell id={`svc-${i}-specialty`} label={`${t("prices.specialty")} (${row})`} value={s.specialty} onInput={(v) => edit({ specialty: v })} error={e(`svc-${i}-specialty`)} width="10" />
                      </td>
                      <td>
                        <Cell id={`svc-${i}-name_ru`} label={`${t("prices.nameRu")} (${row})`} value={s.name_ru} onInput={(v) => edit({ name_ru: v })} error={e(`svc-${i}-name_ru`)} />
                      </td>
                      <td>
                        <Cell id={`svc-${i}-name_en`} label={`${t("prices.nameEn")} (${row})`} value={s.name_en} onInput={(v) => edit({ name_en: v })} error={e(`svc-${i}-name_en`)} />
                      </td>
                      <td class="num">
                        <Cell id={`svc-${i}-price`} label={`${t("prices.priceRub")} (${row})`} value={s.price} onInput={(v) => edit({ price: v })} error={e(`svc-${i}-price`)} numeric width="9" />
                      </td>
                      <td>
                        <Button id={`svc-${i}-remove`} onClick={() => set({ services: form.services.filter((_, j) => j !== i) })} aria-label={t("prices.removeRow", { row })}>
                          {t("prices.remove")}
                        </Button>
                      </td>
                    </tr>
                  );
                })}
              </tbody>
            </table>
          </div>
          {errors.services && <p class="error">{t(errors.services)}</p>}
          <p>
            <Button id="svc-add" onClick={() => set({ services: [...form.services, { key: rowKey(), code: "", call_type: "home_visit", specialty: "", name_ru: "", name_en: "", price: "" }] })}>
              {t("prices.addService")}
            </Button>
          </p>
        </section>

        <section class="panel" aria-labelledby="prices-extras-title">
          <h2 id="prices-extras-title">{t("prices.extras")}</h2>
          <p class="hint">{t("prices.extrasHint")}</p>
          <div class="table-wrap">
            <table class="dense" id="prices-extras">
              <thead>
                <tr>
                  <th scope="col">{t("prices.code")}</th>
                  <th scope="col">{t("prices.nameRu")}</th>
                  <th scope="col">{t("prices.nameEn")}</th>
                  <th scope="col" class="num">{t("prices.priceRub")}</th>
                  <th scope="col">
                    <span class="sr-only">{t("prices.actions")}</span>
                  </th>
                </tr>
              </thead>
              <tbody>
                {form.extras.map((x, i) => {
                  const edit = (patch: Partial<typeof x>) => set({ extras: form.extras.map((y, j) => (j === i ? { ...y, ...patch } : y)) });
                  const row = t("prices.row", { n: i + 1 });
                  return (
                    <tr key={x.key} data-code={x.code}>
                      <td>
                        <Cell id={`ext-${i}-code`} label={`${t("prices.code")} (${row})`} value={x.code} onInput={(v) => edit({ code: v })} error={e(`ext-${i}-code`)} width="12" />
                      </td>
                      <td>
                        <Cell id={`ext-${i}-name_ru`} label={`${t("prices.nameRu")} (${row})`} value={x.name_ru} onInput={(v) => edit({ name_ru: v })} error={e(`ext-${i}-name_ru`)} />
                      </td>
                      <td>
                        <Cell id={`ext-${i}-name_en`} label={`${t("prices.nameEn")} (${row})`} value={x.name_en} onInput={(v) => edit({ name_en: v })} error={e(`ext-${i}-name_en`)} />
                      </td>
                      <td class="num">
                        <Cell id={`ext-${i}-price`} label={`${t("prices.priceRub")} (${row})`} value={x.price} onInput={(v) => edit({ price: v })} error={e(`ext-${i}-price`)} numeric width="9" />
                      </td>
                      <td>
                        <Button id={`ext-${i}-remove`} onClick={() => set({ extras: form.extras.filter((_, j) => j !== i) })} aria-label={t("prices.removeRow", { row })}>
                          {t("prices.remove")}
                        </Button>
                      </td>
                    </tr>
                  );
                })}
              </tbody>
            </table>
          </div>
          <p>
            <Button id="ext-add" onClick={() => set({ extras: [...form.extras, { key: rowKey(), code: "", name_ru: "", name_en: "", price: "" }] })}>
              {t("prices.addExtra")}
            </Button>
          </p>
          <div class="form-grid">
            <Input id="cap-percent" label={t("prices.capPercent")} suffix="%" value={form.capPercent} onInput={(v) => set({ capPercent: v })} error={e("cap-percent")} />
          </div>
        </section>

        <section class="panel" aria-labelledby="prices-surcharges-title">
          <h2 id="prices-surcharges-title">{t("prices.surcharges")}</h2>
          <div class="form-grid">
            <Input id="price-emergency" label={t("prices.emergency")} suffix={rub} value={form.emergency} onInput={(v) => set({ emergency: v })} error={e("price-emergency")} />
            <Input id="price-urgent" label={t("prices.urgent")} suffix={rub} value={form.urgent} onInput={(v) => set({ urgent: v })} error={e("price-urgent")} />
            <Input id="price-night" label={t("prices.night")} suffix={rub} value={form.night} onInput={(v) => set({ night: v })} error={e("price-night")} />
            <Input id="price-night_from" label={t("prices.nightFrom")} value={form.nightFrom} onInput={(v) => set({ nightFrom: v })} error={e("price-night_from")} />
            <Input id="price-night_to" label={t("prices.nightTo")} value={form.nightTo} onInput={(v) => set({ nightTo: v })} error={e("price-night_to")} />
            <Input id="price-free_km" label={t("prices.freeKm")} value={form.freeKm} onInput={(v) => set({ freeKm: v })} error={e("price-free_km")} />
            <Input id="price-per_km" label={t("prices.perKm")} suffix={rub} value={form.perKm} onInput={(v) => set({ perKm: v })} error={e("price-per_km")} />
          </div>
        </section>

        <section class="panel" aria-labelledby="prices-cancel-title">
          <h2 id="prices-cancel-title">{t("prices.cancellation")}</h2>
          <p class="hint">{t("prices.cancellationHint")}</p>
          <div class="form-grid three">
            <Input id="cancel-before_pct" label={t("prices.beforeAssigned")} suffix="%" value={form.beforePercent} onInput={(v) => set({ beforePercent: v })} error={e("cancel-before_pct")} />
            <Input id="cancel-assigned_pct" label={t("prices.afterAssigned")} suffix="%" value={form.assignedPercent} onInput={(v) => set({ assignedPercent: v })} error={e("cancel-assigned_pct")} />
            <Input id="cancel-arrived_pct" label={t("prices.afterArrived")} suffix="%" value={form.arrivedPercent} onInput={(v) => set({ arrivedPercent: v })} error={e("cancel-arrived_pct")} />
            <Input id="cancel-before" label={t("prices.beforeAssignedFixed")} suffix={rub} value={form.before} onInput={(v) => set({ before: v })} error={e("cancel-before")} />
            <Input id="cancel-assigned" label={t("prices.afterAssignedFixed")} suffix={rub} value={form.assigned} onInput={(v) => set({ assigned: v })} error={e("cancel-assigned")} />
            <Input id="cancel-arrived" label={t("prices.afterArrivedFixed")} suffix={rub} value={form.arrived} onInput={(v) => set({ arrived: v })} error={e("cancel-arrived")} />
          </div>
        </section>

        <section class="panel" aria-labelledby="prices-tax-title">
          <h2 id="prices-tax-title">{t("prices.tax")}</h2>
          <div class="form-grid">
            <div class="field">
              <label for="tax-vat">{t("prices.vat")}</label>
              <select id="tax-vat" value={form.vatCode} onChange={(ev) => set({ vatCode: ev.currentTarget.value })}>
                {Array.from({ length: 12 }, (_, i) => i + 1).map((code) => (
                  <option key={code} value={String(code)}>
                    {VAT[code] ? t(VAT[code]!) : t("prices.vatCode", { code })}
                  </option>
                ))}
              </select>
            </div>
            <div class="field">
              <label for="tax-system">{t("prices.taxSystem")}</label>
              <select id="tax-system" value={form.taxSystem} onChange={(ev) => set({ taxSystem: ev.currentTarget.value })}>
                <option value="">{t("prices.taxSystemNone")}</option>
                {[1, 2, 3, 4, 5, 6].map((code) => (
                  <option key={code} value={String(code)}>
                    {t(TAX_SYSTEM[code]!)}
                  </option>
                ))}
              </select>
            </div>
          </div>
        </section>

        <section class="panel" aria-labelledby="prices-methods-title">
          <h2 id="prices-methods-title">{t("prices.methods")}</h2>
          <fieldset id="methods" tabIndex={-1} aria-describedby={errors.methods ? "methods-error" : undefined}>
            <legend class="sr-only">{t("prices.methods")}</legend>
            {(["card", "sbp", "at_visit"] as Method[]).map((m) => (
              <label key={m} class="choice method-choice">
                <input
                  type="checkbox"
                  id={`method-${m}`}
                  checked={form.methods.includes(m)}
                  onChange={(ev) => set({ methods: ev.currentTarget.checked ? [...form.methods, m] : form.methods.filter((x) => x !== m) })}
                />
                <span>
                  <b>{t(METHOD_WORD[m])}</b>
                  <small>{t(METHOD_HINT[m])}</small>
                </span>
              </label>
            ))}
          </fieldset>
          {errors.methods && (
            <p class="error" id="methods-error">
              {t(errors.methods)}
            </p>
          )}
        </section>

        <section class="panel" aria-labelledby="prices-commission-title" id="commission">
          <h2 id="prices-commission-title">{t("prices.commission")}</h2>
          {canSetCommission ? (
            <div class="form-grid three">
              <Input id="comm-percent" label={t("prices.commissionPercent")} suffix="%" value={form.commissionPercent} onInput={(v) => set({ commissionPercent: v })} error={e("comm-percent")} />
              <Input id="comm-fixed" label={t("prices.commissionFixed")} suffix={rub} value={form.commissionFixed} onInput={(v) => set({ commissionFixed: v })} error={e("comm-fixed")} />
              <Input id="comm-doctor" label={t("prices.doctorShare")} suffix="%" value={form.doctorShare} onInput={(v) => set({ doctorShare: v })} error={e("comm-doctor")} />
            </div>
          ) : (
            <>
              <p id="commission-text">
                {t("prices.commissionIs", {
                  percent: form.commissionPercent,
                  fixed: money(list.commission.fixed_kopecks),
                  share: form.doctorShare,
                })}
              </p>
              <div class="form-grid three">
                <Input id="comm-doctor" label={t("prices.doctorShare")} suffix="%" value={form.doctorShare} onInput={(v) => set({ doctorShare: v })} error={e("comm-doctor")} />
              </div>
              {form.doctorShares.length > 0 && <p id="doctor-shares-text">{t("prices.doctorSharesSet", { count: form.doctorShares.length })}</p>}
            </>
          )}
        </section>

        <Alert id="prices-error">{failure}</Alert>
        {saved && (
          <p class="info" role="status" id="prices-saved">
            {t("prices.saved")}
          </p>
        )}
        <div class="row">
          <Button kind="primary" type="submit" id="prices-save" busy={busy}>
            {t("prices.save")}
          </Button>
        </div>
      </form>
    </main>
  );
}
