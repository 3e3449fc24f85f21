import { useT } from "../../i18n";
import { match, useLocation } from "../../lib/router";
import type { User } from "../auth/types";
import { AppFrame } from "../../app/AppFrame";
import { Emergency } from "./Emergency";
import { History } from "./History";
import { Home } from "./Home";
import { NewVisit } from "./NewVisit";
import { Profile } from "./Profile";
import { VisitScreen } from "./VisitScreen";
import { SandboxPay } from "../payments/SandboxPay";

export function PatientApp({ user }: { user: User }) {
  const t = useT();
  const { path, query } = useLocation();
  let screen;
  let params: Record<string, string> | null;
  if (path === "/patient" || path === "/patient/") screen = <Home user={user} />;
  else if (path === "/patient/new") screen = <NewVisit user={user} later={query.get("when") === "later"} />;
  else if (path === "/patient/emergency") screen = <Emergency user={user} />;
  else if (path === "/patient/history") screen = <History />;
  else if (path === "/patient/profile") screen = <Profile user={user} />;
  else if ((params = match("/patient/visits/:id", path))) screen = <VisitScreen id={params.id!} />;
  else if ((params = match("/pay/sandbox/:id", path))) screen = <SandboxPay id={params.id!} />;
  else screen = <NotFound />;
  return (
    <AppFrame
      home="/patient"
      title={t("app.patient")}
      nav={[
        { href: "/patient", label: t("nav.home"), id: "nav-home" },
        { href: "/patient/history", label: t("nav.history"), id: "nav-history" },
        { href: "/patient/profile", label: t("nav.profile"), id: "nav-profile" },
      ]}
    >
      {screen}
    </AppFrame>
  );
}

export function NotFound() {
  const t = useT();
  return (
    <main id="main">
      <h1>{t("app.notFound")}</h1>
    </main>
  );
}
