import { useEffect } from "preact/hooks";
import { DeskApp, InvitationPage, OperatorPage, deskApp, deskTitle, type DeskName } from "./desk";
import { Button, LanguageSwitch, Spinner } from "../components/ui";
import { DoctorApp } from "../features/doctor/DoctorApp";
import { SignIn } from "../features/auth/SignIn";
import { session$, signOut } from "../features/auth/session";
import { PatientApp } from "../features/patient/PatientApp";
import { isLocale, locale$, useT } from "../i18n";
import { onLinkClick, useLocation } from "../lib/router";
import { useStore } from "../lib/store";

export function App() {
  const { path } = useLocation();
  const session = useStore(session$);
  const t = useT();

  useEffect(() => {
    document.addEventListener("click", onLinkClick);
    return () => document.removeEventListener("click", onLinkClick);
  }, []);

  // The account's language wins over the device's.
  const accountLocale = session.status === "signedIn" ? session.user.locale : null;
  useEffect(() => {
    if (isLocale(accountLocale)) locale$.set(accountLocale);
  }, [accountLocale]);

  const desk = deskApp(path);
  const app = path.startsWith("/doctor") ? "doctor" : path.startsWith("/patient") || path.startsWith("/pay/") ? "patient" : desk;
  useEffect(() => {
    document.title = desk ? deskTitle(desk, t) : app === "doctor" ? t("app.doctorTitle") : app === "patient" ? t("app.patientTitle") : t("app.brand");
  }, [app, desk, t]);

  if (path.startsWith("/operator")) return <OperatorPage />;
  if (!app) return <Landing />;
  if (path === "/doctor/invite") return <InvitationPage />;
  if (session.status === "unknown") return <Spinner label={t("app.loading")} />;
  if (session.status === "signedOut") {
    return (
      <>
        {session.reason === "expired" && (
          <p class="banner" role="status">
            {t("signin.expired")}
          </p>
        )}
        {desk ? <SignIn app={desk} title={t(desk === "clinic" ? "clinic.signinTitle" : "admin.signinTitle")} lead={t(desk === "clinic" ? "clinic.signinLead" : "admin.signinLead")} /> : <SignIn app={app} />}
      </>
    );
  }
  const user = session.user;
  const wanted: string = desk === "clinic" ? "clinic_admin" : app;
  if (user.role !== wanted) {
    return (
      <main id="main" class="narrow">
        <h1>{t("app.wrongRoleTitle")}</h1>
        <p>{t("app.wrongRole", { role: t(user.role === "doctor" ? "role.doctor" : user.role === "patient" ? "role.patient" : user.role === "clinic_admin" ? "clinic.roleName" : user.role === "admin" ? "admin.roleName" : "role.staff") })}</p>
        <Button kind="primary" onClick={() => void signOut()} id="signout">
          {t("signin.signOut")}
        </Button>
      </main>
    );
  }
  if (desk) return <DeskApp name={desk as DeskName} user={user} />;
  return app === "patient" ? <PatientApp user={user} /> : <DoctorApp user={user} />;
}

function Landing() {
  const t = useT();
  return (
    <main id="main" class="narrow landing">
      <div class="topbar">
        <span class="brand">{t("app.brand")}</span>
        <LanguageSwitch />
      </div>
      <h1>{t("landing.title")}</h1>
      <p class="lead">{t("landing.lead")}</p>
      <nav class="actions" aria-label={t("landing.apps")}>
        <a class="action now" href="/patient" id="link-patient">
          <span class="action-title">{t("landing.patient")}</span>
          <span class="action-sub">{t("landing.patientSub")}</span>
        </a>
        <a class="action later" href="/doctor" id="link-doctor">
          <span class="action-title">{t("landing.doctor")}</span>
          <span class="action-sub">{t("landing.doctorSub")}</span>
        </a>
        <a class="action plain" href="/clinic" id="link-clinic" data-native="true">
          <span class="action-title">{t("clinic.landing")}</span>
          <span class="action-sub">{t("clinic.landingSub")}</span>
        </a>
        <a class="action plain" href="/admin" id="link-admin" data-native="true">
          <span class="action-title">{t("admin.landing")}</span>
          <span class="action-sub">{t("admin.landingSub")}</span>
        </a>
        <a class="action plain" href="/operator" id="link-operator" data-native="true">
          <span class="action-title">{t("landing.operator")}</span>
          <span class="action-sub">{t("landing.operatorSub")}</span>
        </a>
      </nav>
      <p class="muted small">
        <a href="/docs">{t("landing.api")}</a> · <a href="/docs/asyncapi">{t("landing.ws")}</a>
      </p>
    </main>
  );
}
