/** The admin panel (role admin): moderation, users, the audit trail, the system's state,
 * analytics across clinics, run-time settings. */
import { useEffect, useState } from "preact/hooks";
import { Field, useFocusHeading } from "../../components/ui";
import { useT } from "../../i18n";
import { useLocation } from "../../lib/router";
import type { User } from "../auth/types";
import { NotFound } from "../patient/PatientApp";
import { statsBase } from "../clinic/api";
import { DeskFrame } from "../clinic/desk";
import { StatsView } from "../clinic/StatsView";
import { adminApi } from "./api";
import { Audit } from "./Audit";
import { Payments } from "./Payments";
import { FinanceView } from "../clinic/Finance";
import { PricesScreen } from "../clinic/Prices";
import { financeBase } from "../payments/api";
import { Moderation } from "./Moderation";
import { PlatformSettingsScreen } from "./PlatformSettings";
import { SystemStatusScreen } from "./Status";
import { Users } from "./Users";

export default function AdminApp({ user }: { user: User }) {
  const t = useT();
  const { path } = useLocation();
  let screen;
  if (path === "/admin" || path === "/admin/" || path === "/admin/moderation") screen = <Moderation />;
  else if (path === "/admin/users") screen = <Users me={user} />;
  else if (path === "/admin/audit") screen = <Audit />;
  else if (path === "/admin/status") screen = <SystemStatusScreen />;
  else if (path === "/admin/analytics") screen = <Analytics />;
  else if (path === "/admin/payments") screen = <Payments />;
  else if (path === "/admin/finance") screen = <PlatformFinance />;
  else if (path === "/admin/prices") screen = <AdminPrices />;
  else if (path === "/admin/settings") screen = <PlatformSettingsScreen />;
  else screen = <NotFound />;
  return (
    <DeskFrame
      home="/admin"
      title={t("admin.appName")}
      nav={[
        { href: "/admin", label: t("admin.navModeration"), id: "nav-moderation", key: "m" },
        { href: "/admin/users", label: t("admin.navUsers"), id: "nav-users", key: "u" },
        { href: "/admin/audit", label: t("admin.navAudit"), id: "nav-audit", key: "a" },
        { href: "/admin/status", label: t("admin.navStatus"), id: "nav-status", key: "h" },
        { href: "/admin/analytics", label: t("admin.navAnalytics"), id: "nav-analytics", key: "s" },
        { href: "/admin/payments", label: t("admin.navPayments"), id: "nav-payments", key: "p" },
        { href: "/admin/finance", label: t("admin.navFinance"), id: "nav-finance", key: "f" },
        { href: "/admin/prices", label: t("admin.navPrices"), id: "nav-prices", key: "r" },
        { href: "/admin/settings", label: t("admin.navSettings"), id: "nav-settings", key: "o" },
      ]}
    >
      {screen}
    </DeskFrame>
  );
}

function Analytics() {
  const t = useT();
  useFocusHeading("admin-analytics");
  const [clinics, setClinics] = useState<{ clinic_id: string; name: string }[]>([]);
  const [clinicId, setClinicId] = useState("");
  useEffect(() => {
    adminApi
      .clinics("limit=200")
      .then((page) => setClinics(page.items))
      .catch(() => setClinics([]));
  }, []);
  return (
    <main id="main">
      <h1>{t("admin.analyticsTitle")}</h1>
      <StatsView base={statsBase(null)} extra={{ clinic_id: clinicId || null }}>
        <Field id="stats-clinic" label={t("admin.clinic")}>
          <select id="stats-clinic" value={clinicId} onChange={(e) => setClinicId(e.currentTarget.value)}>
            <option value="">{t("admin.allClinics")}</option>
            {clinics.map((c) => (
              <option key={c.clinic_id} value={c.clinic_id}>
                {c.name}
              </option>
            ))}
          </select>
        </Field>
      </StatsView>
    </main>
  );
}

function useClinics(): { clinic_id: string; name: string }[] {
  const [clinics, setClinics] = useState<{ clinic_id: string; name: string }[]>([]);
  useEffect(() => {
    adminApi
      .clinics("limit=200")
      .then((page) => setClinics(page.items))
      .catch(() => setClinics([]));
  }, []);
  return clinics;
}

function PlatformFinance() {
  const t = useT();
  useFocusHeading("admin-finance");
  const clinics = useClinics();
  const names = Object.fromEntries(clinics.map((c) => [c.clinic_id, c.name]));
  return (
    <main id="main">
      <h1>{t("finance.platformTitle")}</h1>
      <FinanceView base={financeBase(null)} names={names} />
    </main>
  );
}

/** The platform's default price list, or one clinic's (with the commission, which only
 * an admin sets). */
function AdminPrices() {
  const t = useT();
  const clinics = useClinics();
  const [clinicId, setClinicId] = useState("");
  return (
    <PricesScreen key={clinicId || "default"} clinicId={clinicId || null} canSetCommission title={t("admin.pricesTitle")}>
      <div class="toolbar">
        <Field id="prices-clinic" label={t("admin.clinic")}>
          <select id="prices-clinic" value={clinicId} onChange={(e) => setClinicId(e.currentTarget.value)}>
            <option value="">{t("admin.defaultPrices")}</option>
            {clinics.map((c) => (
              <option key={c.clinic_id} value={c.clinic_id}>
                {c.name}
              </option>
            ))}
          </select>
        </Field>
      </div>
    </PricesScreen>
  );
}
