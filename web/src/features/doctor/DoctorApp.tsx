import { useEffect } from "preact/hooks";
import { AppFrame } from "../../app/AppFrame";
import { useT } from "../../i18n";
import { match, useLocation } from "../../lib/router";
import type { User } from "../auth/types";
import { NotFound } from "../patient/PatientApp";
import { DoctorProfile } from "./DoctorProfile";
import { Earnings } from "./Earnings";
import { OfferDialog } from "./OfferDialog";
import { Shift } from "./Shift";
import { Today } from "./Today";
import { DoctorVisit } from "./Visit";
import { startDoctor, stopDoctor } from "./store";

export function DoctorApp({ user }: { user: User }) {
  const t = useT();
  const { path } = useLocation();
  useEffect(() => {
    startDoctor();
    return () => stopDoctor();
  }, [user.id]);
  let screen;
  let params: Record<string, string> | null;
  if (path === "/doctor" || path === "/doctor/") screen = <Shift user={user} />;
  else if (path === "/doctor/today") screen = <Today />;
  else if (path === "/doctor/earnings") screen = <Earnings />;
  else if (path === "/doctor/profile") screen = <DoctorProfile user={user} />;
  else if ((params = match("/doctor/visit/:id", path))) screen = <DoctorVisit id={params.id!} />;
  else screen = <NotFound />;
  return (
    <AppFrame
      home="/doctor"
      title={t("app.doctor")}
      nav={[
        { href: "/doctor", label: t("nav.shift"), id: "nav-shift" },
        { href: "/doctor/today", label: t("nav.today"), id: "nav-today" },
        { href: "/doctor/earnings", label: t("nav.earnings"), id: "nav-earnings" },
        { href: "/doctor/profile", label: t("nav.profile"), id: "nav-profile" },
      ]}
    >
      {screen}
      <OfferDialog />
    </AppFrame>
  );
}
