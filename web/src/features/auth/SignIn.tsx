import { useState } from "preact/hooks";
import { Alert, Button, Field, LanguageSwitch, useFocusHeading } from "../../components/ui";
import { errorText } from "../../components/errors";
import { useT, type MessageKey } from "../../i18n";
import { ApiError } from "../../lib/http";
import { registerPatient, signIn } from "./session";
import { checkEmail, checkName, checkPassword, checkPhone, normalisePhone } from "./validate";

type Mode = "login" | "register";

export function SignIn({ app, title, lead }: { app: "patient" | "doctor" | "clinic" | "admin"; title?: string; lead?: string }) {
  const t = useT();
  const [mode, setMode] = useState<Mode>("login");
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const [firstName, setFirstName] = useState("");
  const [lastName, setLastName] = useState("");
  const [phone, setPhone] = useState("");
  const [errors, setErrors] = useState<Partial<Record<string, MessageKey>>>({});
  const [failure, setFailure] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  useFocusHeading(`${app}-${mode}`);
  const registering = mode === "register";

  const submit = async (event: Event) => {
    event.preventDefault();
    setFailure(null);
    const found: Partial<Record<string, MessageKey>> = {};
    const e1 = checkEmail(email);
    if (e1) found.email = e1;
    const e2 = checkPassword(password, { registering });
    if (e2) found.password = e2;
    if (registering) {
      const e3 = checkPhone(phone);
      if (e3) found.phone = e3;
      const e4 = checkName(firstName) ?? checkName(lastName);
      if (e4) found.name = e4;
    }
    setErrors(found);
    if (Object.keys(found).length) {
      document.getElementById(`signin-${Object.keys(found)[0]}`)?.focus();
      return;
    }
    setBusy(true);
    try {
      if (registering) {
        await registerPatient({
          email: email.trim(),
          password,
          first_name: firstName.trim(),
          last_name: lastName.trim(),
          phone: phone.trim() ? normalisePhone(phone) : null,
        });
      } else {
        await signIn(email.trim(), password);
      }
    } catch (exc) {
      if (exc instanceof ApiError && exc.status === 401) setFailure(t("signin.wrongPassword"));
      else if (exc instanceof ApiError && exc.status === 409) setFailure(t("signin.emailTaken"));
      else setFailure(errorText(t, exc));
    } finally {
      setBusy(false);
    }
  };

  const describe = (field: string, hint?: boolean) =>
    errors[field] ? `signin-${field}-error` : hint ? `signin-${field}-hint` : undefined;

  return (
    <main class="narrow signin" id="main">
      <div class="topbar">
        <span class="brand">{t("app.brand")}</span>
        <LanguageSwitch />
      </div>
      <h1>{title ?? (app === "patient" ? t("signin.patientTitle") : t("signin.doctorTitle"))}</h1>
      <p class="lead">{lead ?? (app === "patient" ? t("signin.patientLead") : t("signin.doctorLead"))}</p>
      {app === "patient" && (
        <div class="tabs" role="group" aria-label={t("signin.mode")}>
          <button type="button" id="mode-login" aria-pressed={!registering ? "true" : "false"} onClick={() => setMode("login")}>
            {t("signin.login")}
          </button>
          <button type="button" id="mode-register" aria-pressed={registering ? "true" : "false"} onClick={() => setMode("register")}>
            {t("signin.register")}
          </button>
        </div>
      )}
      <form onSubmit={submit} noValidate class="card" aria-labelledby="signin-form-title">
        <h2 id="signin-form-title" class="sr-only">
          {registering ? t("signin.register") : t("signin.login")}
        </h2>
        <Field id="signin-email" label={t("signin.email")} error={errors.email ? t(errors.email) : null}>
          <input
            id="signin-email"
            type="email"
            autocomplete="username"
            inputMode="email"
            value={email}
            aria-invalid={errors.email ? "true" : undefined}
            aria-describedby={describe("email")}
            onInput={(e) => setEmail((e.target as HTMLInputElement).value)}
          />
        </Field>
        <Field
          id="signin-password"
          label={t("signin.password")}
          error={errors.password ? t(errors.password) : null}
          hint={registering ? t("signin.passwordHint") : undefined}
        >
          <input
            id="signin-password"
            type="password"
            autocomplete={registering ? "new-password" : "current-password"}
            value={password}
            aria-invalid={errors.password ? "true" : undefined}
            aria-describedby={describe("password", registering)}
            onInput={(e) => setPassword((e.target as HTMLInputElement).value)}
          />
        </Field>
        {registering && (
          <>
            <Field id="signin-first" label={t("profile.firstName")} error={errors.name ? t(errors.name) : null}>
              <input id="signin-first" autocomplete="given-name" value={firstName} onInput={(e) => setFirstName((e.target as HTMLInputElement).value)} />
            </Field>
            <Field id="signin-last" label={t("profile.lastName")}>
              <input id="signin-last" autocomplete="family-name" value={lastName} onInput={(e) => setLastName((e.target as HTMLInputElement).value)} />
            </Field>
            <Field id="signin-phone" label={t("profile.phone")} error={errors.phone ? t(errors.phone) : null} hint={t("profile.phoneHint")}>
              <input
                id="signin-phone"
                type="tel"
                autocomplete="tel"
                value={phone}
                aria-invalid={errors.phone ? "true" : undefined}
                aria-describedby={describe("phone", true)}
                onInput={(e) => setPhone((e.target as HTMLInputElement).value)}
              />
            </Field>
          </>
        )}
        <Alert id="signin-failure">{failure}</Alert>
        <Button type="submit" kind="primary" id="signin-submit" busy={busy}>
          {registering ? t("signin.registerSubmit") : t("signin.loginSubmit")}
        </Button>
      </form>
      {app === "doctor" && <p class="hint">{t("signin.doctorHint")}</p>}
    </main>
  );
}
