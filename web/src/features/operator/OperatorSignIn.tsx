import { useState } from "preact/hooks";
import { Alert, Button, Field, LanguageSwitch, useFocusHeading } from "../../components/ui";
import { errorText } from "../../components/errors";
import { useT } from "../../i18n";
import { ApiError } from "../../lib/http";
import { signIn } from "../auth/session";

/** The operator's sign-in (operators and admins are made by an admin: no registration). */
export function OperatorSignIn() {
  const t = useT();
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const [failure, setFailure] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  useFocusHeading("operator-signin");

  const submit = async (event: Event) => {
    event.preventDefault();
    setFailure(null);
    if (!email.trim() || !password) {
      setFailure(t("operator.signin.missing"));
      return;
    }
    setBusy(true);
    try {
      await signIn(email.trim(), password);
    } catch (exc) {
      setFailure(exc instanceof ApiError && exc.status === 401 ? t("signin.wrongPassword") : errorText(t, exc));
    } finally {
      setBusy(false);
    }
  };

  return (
    <main class="narrow signin" id="main">
      <div class="topbar">
        <span class="brand">{t("app.brand")}</span>
        <LanguageSwitch />
      </div>
      <h1>{t("operator.signin.title")}</h1>
      <p class="lead">{t("operator.signin.lead")}</p>
      <form onSubmit={submit} noValidate class="card" aria-labelledby="op-signin-title">
        <h2 id="op-signin-title" class="sr-only">
          {t("signin.login")}
        </h2>
        <Field id="signin-email" label={t("signin.email")}>
          <input id="signin-email" type="email" autocomplete="username" value={email} onInput={(e) => setEmail((e.target as HTMLInputElement).value)} />
        </Field>
        <Field id="signin-password" label={t("signin.password")}>
          <input
            id="signin-password"
            type="password"
            autocomplete="current-password"
            value={password}
            onInput={(e) => setPassword((e.target as HTMLInputElement).value)}
          />
        </Field>
        <Alert id="signin-failure">{failure}</Alert>
        <Button type="submit" kind="primary" id="signin-submit" busy={busy}>
          {t("signin.loginSubmit")}
        </Button>
      </form>
    </main>
  );
}
