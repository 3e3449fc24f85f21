/** The sandbox provider's payment page (/pay/sandbox/<id>): with no payment account (the
 * demo, the tests) the patient pays or declines here, then goes back to the visit. */
import { useState } from "preact/hooks";
import { errorText } from "../../components/errors";
import { Alert, Button, useFocusHeading } from "../../components/ui";
import { useT } from "../../i18n";
import { navigate } from "../../lib/router";
import { paymentsApi } from "./api";
import type { Order } from "./types";
import { ORDER_STATUS } from "./words";

export function SandboxPay({ id }: { id: string }) {
  const t = useT();
  useFocusHeading(`sandbox-${id}`);
  const [busy, setBusy] = useState<"pay" | "decline" | null>(null);
  const [failure, setFailure] = useState<string | null>(null);
  const [done, setDone] = useState<Order | null>(null);

  const answer = async (pay: boolean) => {
    setFailure(null);
    setBusy(pay ? "pay" : "decline");
    try {
      const order = await paymentsApi.sandboxConfirm(id, pay);
      setDone(order);
      navigate(`/patient/visits/${encodeURIComponent(order.booking_id)}`, { replace: true });
    } catch (exc) {
      setFailure(errorText(t, exc));
    } finally {
      setBusy(null);
    }
  };

  return (
    <main id="main" class="narrow sandbox-pay">
      <h1>{t("sandbox.title")}</h1>
      <p class="banner" role="note">
        {t("sandbox.note")}
      </p>
      <p>{t("sandbox.lead")}</p>
      {done && (
        <p role="status" id="sandbox-done">
          {t(ORDER_STATUS[done.status])}
        </p>
      )}
      <Alert id="sandbox-error">{failure}</Alert>
      <div class="row">
        <Button kind="primary" id="sandbox-pay" busy={busy === "pay"} disabled={busy !== null} onClick={() => void answer(true)}>
          {t("sandbox.pay")}
        </Button>
        <Button id="sandbox-decline" busy={busy === "decline"} disabled={busy !== null} onClick={() => void answer(false)}>
          {t("sandbox.decline")}
        </Button>
      </div>
      <p class="small">
        <a href="/patient/history">{t("sandbox.backToVisits")}</a>
      </p>
    </main>
  );
}
