/** The clinic's desk app (role clinic_admin): doctors, call statistics, settings. */
import { useEffect, useState } from "preact/hooks";
import { Alert, Spinner, useFocusHeading } from "../../components/ui";
import { errorText } from "../../components/errors";
import { useT } from "../../i18n";
import { match, useLocation } from "../../lib/router";
import type { User } from "../auth/types";
import { NotFound } from "../patient/PatientApp";
import { clinicsApi, statsBase, type Clinic } from "./api";
import { financeBase } from "../payments/api";
import { DeskFrame } from "./desk";
import { ClinicDoctors } from "./Doctors";
import { ClinicDoctorVisits } from "./DoctorVisits";
import { FinanceView } from "./Finance";
import { PricesScreen } from "./Prices";
import { ClinicSettings } from "./Settings";
import { StatsView } from "./StatsView";

export default function ClinicApp({ user }: { user: User }) {
  const t = useT();
  const { path } = useLocation();
  const [clinic, setClinic] = useState<Clinic | null>(null);
  const [failure, setFailure] = useState<string | null>(null);

  useEffect(() => {
    const own = (user as User & { clinic_id?: string | null }).clinic_id;
    (own ? clinicsApi.get(own) : clinicsApi.list().then((page) => page.items[0] ?? null))
      .then((c) => (c ? setClinic(c) : setFailure(t("clinic.noClinic"))))
      .catch((exc: unknown) => setFailure(errorText(t, exc)));
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [user.id]);

  let screen;
  let params: Record<string, string> | null;
  if (!clinic) {
    screen = (
      <main id="main">
        <h1>{t("clinic.title")}</h1>
        {failure ? <Alert id="clinic-error">{failure}</Alert> : <Spinner label={t("app.loading")} />}
      </main>
    );
  } else if (path === "/clinic" || path === "/clinic/" || path === "/clinic/doctors") screen = <ClinicDoctors clinic={clinic} />;
  else if ((params = match("/clinic/doctors/:id", path))) screen = <ClinicDoctorVisits clinic={clinic} doctorId={params.id!} />;
  else if (path === "/clinic/stats") screen = <ClinicStats clinic={clinic} />;
  else if (path === "/clinic/prices") screen = <PricesScreen clinicId={clinic.clinic_id} />;
  else if (path === "/clinic/finance") screen = <ClinicFinance clinic={clinic} />;
  else if (path === "/clinic/settings") screen = <ClinicSettings clinic={clinic} onSaved={setClinic} />;
  else screen = <NotFound />;

  return (
    <DeskFrame
      home="/clinic"
      title={clinic?.name ?? t("clinic.appName")}
      nav={[
        { href: "/clinic", label: t("clinic.navDoctors"), id: "nav-doctors", key: "d" },
        { href: "/clinic/stats", label: t("clinic.navStats"), id: "nav-stats", key: "s" },
        { href: "/clinic/prices", label: t("clinic.navPrices"), id: "nav-prices", key: "p" },
        { href: "/clinic/finance", label: t("clinic.navFinance"), id: "nav-finance", key: "f" },
        { href: "/clinic/settings", label: t("clinic.navSettings"), id: "nav-settings", key: "o" },
      ]}
    >
      {screen}
    </DeskFrame>
  );
}

function ClinicStats({ clinic }: { clinic: Clinic }) {
  const t = useT();
  useFocusHeading("clinic-stats");
  return (
    <main id="main">
      <h1>{t("clinic.statsTitle")}</h1>
      <StatsView base={statsBase(clinic.clinic_id)} />
    </main>
  );
}

function ClinicFinance({ clinic }: { clinic: Clinic }) {
  const t = useT();
  useFocusHeading("clinic-finance");
  // The doctors' names for the per-doctor table (the first 200 of the clinic's).
  const [names, setNames] = useState<Record<string, string>>({});
  useEffect(() => {
    clinicsApi
      .doctors(clinic.clinic_id, "limit=200")
      .then((page) => setNames(Object.fromEntries(page.items.map((d) => [d.doctor_id, `${d.first_name} ${d.last_name}`.trim() || d.email]))))
      .catch(() => setNames({}));
  }, [clinic.clinic_id]);
  return (
    <main id="main">
      <h1>{t("finance.clinicTitle")}</h1>
      <FinanceView base={financeBase(clinic.clinic_id)} names={names} />
    </main>
  );
}
