/** The way to pay, chosen when booking: only the methods the estimate offers, each said
 * in plain words, with the quote and the extras cap the patient accepts by booking. */
import { useLocale, useT } from "../../i18n";
import { formatMoney } from "../../i18n/format";
import type { Method } from "./types";
import { METHOD_HINT, METHOD_WORD } from "./words";

export function MethodChoice({
  methods,
  value,
  onChange,
  priceKopecks,
  capKopecks,
  currency,
}: {
  methods: Method[];
  value: Method;
  onChange: (m: Method) => void;
  priceKopecks: number;
  capKopecks: number;
  currency: string;
}) {
  const t = useT();
  const locale = useLocale();
  return (
    <section class="card" aria-labelledby="pay-title" id="pay-choice">
      <h2 id="pay-title">{t("pay.title")}</h2>
      <fieldset>
        <legend>{t("pay.how")}</legend>
        {methods.map((m) => (
          <label key={m} class="choice method-choice">
            <input type="radio" name="payment-method" id={`pay-${m}`} value={m} checked={value === m} onChange={() => onChange(m)} aria-describedby={`pay-${m}-hint`} />
            <span>
              <b>{t(METHOD_WORD[m])}</b>
              <small id={`pay-${m}-hint`}>{t(METHOD_HINT[m])}</small>
            </span>
          </label>
        ))}
      </fieldset>
      <p id="pay-quote">
        {t("pay.quoteFixed", { price: formatMoney(priceKopecks, currency, locale) })}
      </p>
      <p class="hint" id="pay-cap" data-cap={String(capKopecks)}>
        {capKopecks > 0
          ? t("pay.capAccept", { cap: formatMoney(capKopecks, currency, locale), most: formatMoney(priceKopecks + capKopecks, currency, locale) })
          : t("pay.capNone")}
      </p>
    </section>
  );
}
