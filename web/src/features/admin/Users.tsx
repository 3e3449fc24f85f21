/** Accounts: search and filters on the server, cursor pages; one account's details,
 * block and unblock, change of role (the server's 409 says why it refuses, such as the
 * last admin). */
import { useEffect, useMemo, useState } from "preact/hooks";
import { Alert, Button, Field, useFocusHeading } from "../../components/ui";
import { errorText } from "../../components/errors";
import { useLocale, useT, type MessageKey } from "../../i18n";
import { formatDateTime } from "../../i18n/format";
import { ApiError } from "../../lib/http";
import { useStore } from "../../lib/store";
import type { Role, User } from "../auth/types";
import { createCursorList } from "../clinic/cursorList";
import { LoadMore } from "../clinic/desk";
import { adminApi, type AdminUser } from "./api";

export const ROLES: Role[] = ["patient", "doctor", "clinic_admin", "operator", "admin"];
export const ROLE_WORD: Record<Role, MessageKey> = {
  patient: "admin.rolePatient",
  doctor: "admin.roleDoctor",
  clinic_admin: "admin.roleClinicAdmin",
  operator: "admin.roleOperator",
  admin: "admin.roleAdmin",
};

export function Users({ me }: { me: User }) {
  const t = useT();
  useFocusHeading("admin-users");
  const list = useMemo(() => createCursorList<AdminUser>(adminApi.users), []);
  const s = useStore(list);
  const [q, setQ] = useState("");
  const [role, setRole] = useState("");
  const [blocked, setBlocked] = useState("");
  const [selected, setSelected] = useState<string | null>(null);
  useEffect(() => {
    const timer = setTimeout(() => void list.reload({ q: q.trim(), role, blocked }), q ? 250 : 0);
    return () => clearTimeout(timer);
  }, [list, q, role, blocked]);
  const current = s.items.find((u) => u.id === selected) ?? null;

  return (
    <main id="main">
      <h1>{t("admin.usersTitle")}</h1>
      <div class="toolbar" role="search">
        <Field id="users-q" label={t("clinic.search")}>
          <input id="users-q" type="search" data-search value={q} onInput={(e) => setQ(e.currentTarget.value)} placeholder={t("admin.searchUsers")} aria-keyshortcuts="/" />
        </Field>
        <Field id="users-role" label={t("admin.role")}>
          <select id="users-role" value={role} onChange={(e) => setRole(e.currentTarget.value)}>
            <option value="">{t("clinic.any")}</option>
            {ROLES.map((r) => (
              <option key={r} value={r}>
                {t(ROLE_WORD[r])}
              </option>
            ))}
          </select>
        </Field>
        <Field id="users-blocked" label={t("admin.state")}>
          <select id="users-blocked" value={blocked} onChange={(e) => setBlocked(e.currentTarget.value)}>
            <option value="">{t("clinic.any")}</option>
            <option value="false">{t("admin.active")}</option>
            <option value="true">{t("admin.blocked")}</option>
          </select>
        </Field>
      </div>
      <div class="split">
        <div>
          <div class="table-wrap">
            <table class="dense" id="users">
              <caption class="sr-only">{t("admin.usersTitle")}</caption>
              <thead>
                <tr>
                  <th scope="col">{t("admin.name")}</th>
                  <th scope="col">{t("clinic.email")}</th>
                  <th scope="col">{t("admin.role")}</th>
                  <th scope="col">{t("admin.state")}</th>
                </tr>
              </thead>
              <tbody>
                {s.items.map((u) => (
                  <tr key={u.id} data-user-id={u.id} aria-selected={u.id === selected ? "true" : "false"}>
                    <td>
                      <button type="button" class="linklike" id={`user-${u.id}`} onClick={() => setSelected(u.id)}>
                        {`${u.first_name} ${u.last_name}`.trim() || u.email}
                      </button>
                    </td>
                    <td>{u.email}</td>
                    <td>{t(ROLE_WORD[u.role] ?? "admin.rolePatient")}</td>
                    <td>{u.is_active ? <span class="muted">{t("admin.active")}</span> : <span class="badge warn">{t("admin.blocked")}</span>}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          <LoadMore list={list} id="users" count={(n) => t("admin.usersShown", { count: n })} />
        </div>
        {current ? (
          <UserPanel key={current.id} user={current} me={me} onChange={(u) => list.update((x) => x.id === u.id, () => u)} />
        ) : (
          <p class="muted">{t("admin.pickUser")}</p>
        )}
      </div>
    </main>
  );
}

function UserPanel({ user, me, onChange }: { user: AdminUser; me: User; onChange: (u: AdminUser) => void }) {
  const t = useT();
  const locale = useLocale();
  const [blockReason, setBlockReason] = useState("");
  const [role, setRole] = useState<Role>(user.role);
  const [clinicId, setClinicId] = useState(user.clinic_id ?? "");
  const [roleReason, setRoleReason] = useState("");
  const [failure, setFailure] = useState<string | null>(null);
  const [done, setDone] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [missing, setMissing] = useState<string | null>(null);
  const [clinics, setClinics] = useState<{ clinic_id: string; name: string }[]>([]);
  useEffect(() => {
    if (role !== "clinic_admin" || clinics.length) return;
    adminApi
      .clinics("limit=200")
      .then((page) => setClinics(page.items ?? []))
      .catch(() => undefined);
  }, [role, clinics.length]);

  const run = async (work: () => Promise<AdminUser>, message: MessageKey, reasonField?: { id: string; value: string }) => {
    setFailure(null);
    setDone(null);
    setMissing(null);
    if (reasonField && !reasonField.value.trim()) {
      setMissing(reasonField.id);
      document.getElementById(reasonField.id)?.focus();
      return;
    }
    setBusy(true);
    try {
      onChange(await work());
      setDone(t(message));
    } catch (exc) {
      // A refusal (409) carries the server's reason: the last admin, one's own account.
      setFailure(exc instanceof ApiError && exc.status === 409 ? t("admin.refused", { detail: exc.problem?.detail ?? "" }) : errorText(t, exc));
    } finally {
      setBusy(false);
    }
  };

  return (
    <section class="panel" aria-labelledby="user-title" id="user-panel" data-user-id={user.id}>
      <h2 id="user-title">{`${user.first_name} ${user.last_name}`.trim() || user.email}</h2>
      <dl class="details">
        <dt>{t("clinic.email")}</dt>
        <dd>{user.email}</dd>
        <dt>{t("admin.role")}</dt>
        <dd id="user-role">{t(ROLE_WORD[user.role] ?? "admin.rolePatient")}</dd>
        <dt>{t("admin.state")}</dt>
        <dd id="user-state" data-active={user.is_active ? "true" : "false"}>
          {user.is_active ? t("admin.active") : t("admin.blocked")}
        </dd>
        <dt>{t("clinic.phone")}</dt>
        <dd>{user.phone ?? "—"}</dd>
        <dt>{t("admin.clinic")}</dt>
        <dd>{user.clinic_id ?? "—"}</dd>
        <dt>{t("admin.createdAt")}</dt>
        <dd>{formatDateTime(user.created_at, locale)}</dd>
        <dt>{t("admin.id")}</dt>
        <dd>
          <code>{user.id}</code>
        </dd>
      </dl>
      <p>
        <a href={`/admin/audit?target_type=user&target_id=${encodeURIComponent(user.id)}`} id="user-audit">
          {t("admin.userAudit")}
        </a>
      </p>
      {user.id === me.id && <p class="muted small">{t("admin.itsYou")}</p>}
      <h3>{user.is_active ? t("admin.block") : t("admin.unblock")}</h3>
      {user.is_active ? (
        <div class="toolbar">
          <Field id="block-reason" label={t("admin.reason")} error={missing === "block-reason" ? t("admin.reasonRequired") : null}>
            <input id="block-reason" aria-invalid={missing === "block-reason" ? "true" : undefined} aria-describedby={missing === "block-reason" ? "block-reason-error" : undefined} value={blockReason} maxLength={500} onInput={(e) => setBlockReason(e.currentTarget.value)} />
          </Field>
          <Button kind="danger" id="user-block" busy={busy} onClick={() => void run(() => adminApi.block(user.id, blockReason.trim()), "admin.blockedDone", { id: "block-reason", value: blockReason })}>
            {t("admin.block")}
          </Button>
        </div>
      ) : (
        <Button id="user-unblock" busy={busy} onClick={() => void run(() => adminApi.unblock(user.id), "admin.unblockedDone")}>
          {t("admin.unblock")}
        </Button>
      )}
      <h3>{t("admin.changeRole")}</h3>
      <div class="toolbar">
        <Field id="role-new" label={t("admin.newRole")}>
          <select id="role-new" value={role} onChange={(e) => setRole(e.currentTarget.value as Role)}>
            {ROLES.map((r) => (
              <option key={r} value={r}>
                {t(ROLE_WORD[r])}
              </option>
            ))}
          </select>
        </Field>
        {role === "clinic_admin" && (
          <Field id="role-clinic" label={t("admin.clinicId")}>
            <input id="role-clinic" list="role-clinics" value={clinicId} onInput={(e) => setClinicId(e.currentTarget.value)} />
            <datalist id="role-clinics">
              {clinics.map((c) => (
                <option key={c.clinic_id} value={c.clinic_id}>
                  {c.name}
                </option>
              ))}
            </datalist>
          </Field>
        )}
        <Field id="role-reason" label={t("admin.reason")} error={missing === "role-reason" ? t("admin.reasonRequired") : null}>
          <input id="role-reason" aria-invalid={missing === "role-reason" ? "true" : undefined} aria-describedby={missing === "role-reason" ? "role-reason-error" : undefined} value={roleReason} maxLength={500} onInput={(e) => setRoleReason(e.currentTarget.value)} />
        </Field>
        <Button
          kind="primary"
          id="role-save"
          busy={busy}
          disabled={role === user.role && (role !== "clinic_admin" || clinicId === (user.clinic_id ?? ""))}
          onClick={() => void run(() => adminApi.role(user.id, role, roleReason.trim(), role === "clinic_admin" ? clinicId.trim() || null : null), "admin.roleDone", { id: "role-reason", value: roleReason })}
        >
          {t("admin.changeRole")}
        </Button>
      </div>
      <Alert id="user-error">{failure}</Alert>
      {done && (
        <p class="info" role="status" id="user-done">
          {done}
        </p>
      )}
    </section>
  );
}
