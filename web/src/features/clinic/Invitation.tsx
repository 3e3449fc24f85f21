/** A doctor invited by a clinic opens the link (/doctor/invite#<token>), sets a password
 * and is signed in. The token is read from the fragment (never sent in a URL to the
 * server) and taken out of the address bar at once. */
import { useEffect, useState } from "preact/hooks";
import { Alert, Button, Field, LanguageSwitch, useFocusHeading } from "../../components/ui";
import { errorText } from "../../components/errors";
import { useT } from "../../i18n";
import { ApiError, api } from "../../lib/http";
import { navigate } from "../../lib/router";
import { signInWithTokens } from "../auth/session";
import type { Tokens } from "../auth/types";

let kept: string | null = null;

function takeToken(): string | null {
  if (kept === null && typeof window !== "undefined") {
    const token = decodeURIComponent(window.location.hash.replace(/^#/, ""));
    if (token) {
      kept = token;
      history.replaceState(null, "", window.location.pathname);
    }
  }
  return kept;
}

export default function Invitation() {
  const t = useT();
  const [token] = useState(takeToken);
  const [password, setPassword] = useState("");
  const [repeat, setRepeat] = useState("");
  const [errors, setErrors] = useState<{ password?: string; repeat?: string }>({});
  const [failure, setFailure] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  useFocusHeading("invitation");
  useEffect(() => {
    document.title = t("clinic.inviteAcceptTitle");
  }, [t]);

  const submit = async (event: Event) => {
    event.preventDefault();
    setFailure(null);
    const found: { password?: string; repeat?: string } = {};
    if (password.length < 10) found.password = t("clinic.passwordShort");
    else if (password !== repeat) found.repeat = t("clinic.passwordsDiffer");
    setErrors(found);
    if (found.password || found.repeat) {
      document.getElementById(found.password ? "invite-password" : "invite-repeat")?.focus();
      return;
    }
    setBusy(true);
    try {
      const tokens = await api<Tokens>("/auth/invitations/accept", { method: "POST", body: { token, password }, auth: false });
      kept = null;
      await signInWithTokens(tokens);
      navigate("/doctor", { replace: true });
    } catch (exc) {
      setFailure(exc instanceof ApiError && (exc.status === 404 || exc.status === 410) ? t("clinic.invitationGone") : errorText(t, exc));
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
      <h1>{t("clinic.inviteAcceptTitle")}</h1>
      {!token ? (
        <Alert id="invitation-error">{t("clinic.invitationGone")}</Alert>
      ) : (
        <form onSubmit={submit} noValidate class="card" id="invitation">
          <p>{t("clinic.inviteAcceptLead")}</p>
          <Field id="invite-password" label={t("signin.password")} error={errors.password} hint={t("signin.passwordHint")}>
            <input
              id="invite-password"
              type="password"
              autocomplete="new-password"
              value={password}
              onInput={(e) => setPassword(e.currentTarget.value)}
              aria-invalid={errors.password ? "true" : undefined}
              aria-describedby={errors.password ? "invite-password-error" : "invite-password-hint"}
            />
          </Field>
          <Field id="invite-repeat" label={t("clinic.passwordRepeat")} error={errors.repeat}>
            <input
              id="invite-repeat"
              type="password"
              autocomplete="new-password"
              value={repeat}
              onInput={(e) => setRepeat(e.currentTarget.value)}
              aria-invalid={errors.repeat ? "true" : undefined}
              aria-describedby={errors.repeat ? "invite-repeat-error" : undefined}
            />
          </Field>
          <Alert id="invitation-failure">{failure}</Alert>
          <Button kind="primary" type="submit" id="invitation-submit" busy={busy}>
            {t("clinic.inviteAccept")}
          </Button>
        </form>
      )}
    </main>
  );
}
