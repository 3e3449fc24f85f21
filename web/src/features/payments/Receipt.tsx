/** A 54-FZ receipt as the patient sees it: items (description, quantity, price), total. */
import { useLocale, useT } from "../../i18n";
import { formatMoney } from "../../i18n/format";
import type { Receipt } from "./types";

export function ReceiptView({ receipt, currency, title, id }: { receipt: Receipt; currency: string; title: string; id: string }) {
  const t = useT();
  const locale = useLocale();
  return (
    <div class="receipt" id={id}>
      <table class="lines">
        <caption>{title}</caption>
        <thead>
          <tr>
            <th scope="col">{t("pay.item")}</th>
            <th scope="col" class="num">{t("pay.quantity")}</th>
            <th scope="col" class="num">{t("pay.amount")}</th>
          </tr>
        </thead>
        <tbody>
          {receipt.items.map((item, i) => (
            <tr key={i}>
              <td>{item.description}</td>
              <td class="num">{item.quantity}</td>
              <td class="num">{formatMoney(item.amount_kopecks * item.quantity, currency, locale)}</td>
            </tr>
          ))}
        </tbody>
        <tfoot>
          <tr>
            <th scope="row" colSpan={2}>
              {t("pay.total")}
            </th>
            <td class="num receipt-total">{formatMoney(receipt.total_kopecks, currency, locale)}</td>
          </tr>
        </tfoot>
      </table>
      {(receipt.customer_email || receipt.customer_phone) && (
        <p class="hint">{t("pay.receiptSentTo", { to: receipt.customer_email ?? receipt.customer_phone ?? "" })}</p>
      )}
    </div>
  );
}
