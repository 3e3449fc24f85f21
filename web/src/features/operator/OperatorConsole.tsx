import { useEffect } from "preact/hooks";
import { Button, Spinner } from "../../components/ui";
import { useT } from "../../i18n";
import { useStore } from "../../lib/store";
import { session$, signOut } from "../auth/session";
import { OperatorApp } from "./OperatorApp";
import { OperatorSignIn } from "./OperatorSignIn";

/** /operator: the sign-in, the console for operators and admins, or a word to others. */
export function OperatorConsole() {
  const t = useT();
  const session = useStore(session$);
  useEffect(() => {
    // After the app frame's own title (its effect runs after this one).
    const frame = requestAnimationFrame(() => (document.title = `${t("operator.title")} — ${t("app.brand")}`));
    return () => cancelAnimationFrame(frame);
  }, [t]);
  if (session.status === "unknown") return <Spinner label={t("app.loading")} />;
  if (session.status === "signedOut") return <OperatorSignIn />;
  const user = session.user;
  if (user.role === "operator" || user.role === "admin") return <OperatorApp user={user} />;
  return (
    <main id="main" class="narrow">
      <h1>{t("app.wrongRoleTitle")}</h1>
      <p>{t("app.wrongRole", { role: t(user.role === "doctor" ? "role.doctor" : user.role === "patient" ? "role.patient" : "role.staff") })}</p>
      <Button kind="primary" onClick={() => void signOut()} id="signout">
        {t("signin.signOut")}
      </Button>
    </main>
  );
}
