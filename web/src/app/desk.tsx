/** The desk apps (operator, clinic, admin), each in a chunk of its own: the patient's phone
 * never loads them. */
import type { ComponentType } from "preact";
import { useEffect, useState } from "preact/hooks";
import { Spinner } from "../components/ui";
import type { User } from "../features/auth/types";
import { useT, type Translate } from "../i18n";

export type DeskName = "clinic" | "admin";

export function deskApp(path: string): DeskName | null {
  if (path === "/clinic" || path.startsWith("/clinic/")) return "clinic";
  if (path === "/admin" || path.startsWith("/admin/")) return "admin";
  return null;
}

export function deskTitle(name: DeskName, t: Translate): string {
  return name === "clinic" ? t("clinic.pageTitle") : t("admin.pageTitle");
}

const loaders: Record<DeskName, () => Promise<{ default: ComponentType<{ user: User }> }>> = {
  clinic: () => import("../features/clinic/ClinicApp"),
  admin: () => import("../features/admin/AdminApp"),
};

export function DeskApp({ name, user }: { name: DeskName; user: User }) {
  const t = useT();
  const [app, setApp] = useState<{ name: DeskName; Component: ComponentType<{ user: User }> } | null>(null);
  useEffect(() => {
    let live = true;
    void loaders[name]().then((m) => live && setApp({ name, Component: m.default }));
    return () => {
      live = false;
    };
  }, [name]);
  if (!app || app.name !== name) return <Spinner label={t("app.loading")} />;
  const { Component } = app;
  return <Component user={user} />;
}

/** The page an invited doctor opens (/doctor/invite#<token>), in the clinic's chunk. */
export function InvitationPage() {
  const t = useT();
  const [Page, setPage] = useState<ComponentType | null>(null);
  useEffect(() => {
    void import("../features/clinic/Invitation").then((m) => setPage(() => m.default));
  }, []);
  return Page ? <Page /> : <Spinner label={t("app.loading")} />;
}

/** The operator console (/operator), in a chunk of its own. */
export function OperatorPage() {
  const t = useT();
  const [Console, setConsole] = useState<ComponentType | null>(null);
  useEffect(() => {
    void import("../features/operator/OperatorConsole").then((m) => setConsole(() => m.OperatorConsole));
  }, []);
  return Console ? <Console /> : <Spinner label={t("app.loading")} />;
}
