/** The audit trail: who read or changed what, newest first, filtered on the server by
 * user, object, action and time, page by page (it can hold millions of rows). */
import { useEffect, useMemo, useState } from "preact/hooks";
import { Button, Field, useFocusHeading } from "../../components/ui";
import { useLocale, useT } from "../../i18n";
import { formatDateTime } from "../../i18n/format";
import { useLocation } from "../../lib/router";
import { useStore } from "../../lib/store";
import { createCursorList } from "../clinic/cursorList";
import { LoadMore } from "../clinic/desk";
import { adminApi, type AuditEntry } from "./api";
import { auditFilters, auditFormFrom, EMPTY_AUDIT, type AuditForm } from "./auditFilters";

export function Audit() {
  const t = useT();
  const locale = useLocale();
  const { query } = useLocation();
  useFocusHeading("admin-audit");
  const [form, setForm] = useState<AuditForm>(() => auditFormFrom(query));
  const list = useMemo(() => createCursorList<AuditEntry>(adminApi.audit), []);
  const s = useStore(list);
  useEffect(() => void list.reload(auditFilters(form)), [list]); // eslint-disable-line react-hooks/exhaustive-deps
  const set = (key: keyof AuditForm) => (e: { currentTarget: HTMLInputElement | HTMLSelectElement }) => setForm((f) => ({ ...f, [key]: e.currentTarget.value }));
  const apply = (event: Event) => {
    event.preventDefault();
    void list.reload(auditFilters(form));
  };
  return (
    <main id="main">
      <h1>{t("admin.auditTitle")}</h1>
      <form class="toolbar" role="search" onSubmit={apply} id="audit-filters">
        <Field id="audit-actor" label={t("admin.auditActor")}>
          <input id="audit-actor" data-search value={form.actor_id} onInput={set("actor_id")} aria-keyshortcuts="/" />
        </Field>
        <Field id="audit-type" label={t("admin.auditTargetType")}>
          <select id="audit-type" value={form.target_type} onChange={set("target_type")}>
            <option value="">{t("clinic.any")}</option>
            <option value="user">{t("admin.targetUser")}</option>
            <option value="booking">{t("admin.targetBooking")}</option>
            <option value="clinic">{t("admin.targetClinic")}</option>
            <option value="settings">{t("admin.targetSettings")}</option>
            <option value="document">{t("admin.targetDocument")}</option>
          </select>
        </Field>
        <Field id="audit-target" label={t("admin.auditTarget")}>
          <input id="audit-target" value={form.target_id} onInput={set("target_id")} />
        </Field>
        <Field id="audit-action" label={t("admin.auditAction")}>
          <input id="audit-action" value={form.action} onInput={set("action")} placeholder={t("admin.actionExample")} />
        </Field>
        <Field id="audit-since" label={t("clinic.since")}>
          <input id="audit-since" type="datetime-local" value={form.since} onInput={set("since")} />
        </Field>
        <Field id="audit-until" label={t("clinic.until")}>
          <input id="audit-until" type="datetime-local" value={form.until} onInput={set("until")} />
        </Field>
        <Button kind="primary" type="submit" id="audit-apply">
          {t("clinic.show")}
        </Button>
        <Button
          id="audit-clear"
          onClick={() => {
            setForm(EMPTY_AUDIT);
            void list.reload({});
          }}
        >
          {t("admin.clear")}
        </Button>
      </form>
      <div class="table-wrap">
        <table class="dense" id="audit">
          <caption class="sr-only">{t("admin.auditTitle")}</caption>
          <thead>
            <tr>
              <th scope="col">{t("admin.auditAt")}</th>
              <th scope="col">{t("admin.auditActor")}</th>
              <th scope="col">{t("admin.auditAction")}</th>
              <th scope="col">{t("admin.auditTarget")}</th>
              <th scope="col">{t("admin.auditDetail")}</th>
              <th scope="col">{t("admin.auditFrom")}</th>
            </tr>
          </thead>
          <tbody>
            {s.items.map((e, i) => (
              <tr key={`${e.at}-${i}`} data-action={e.action}>
                <td>{formatDateTime(e.at, locale)}</td>
                <td>
                  <code>{e.actor_id ?? "—"}</code> <span class="muted small">{e.actor_role ?? ""}</span>
                </td>
                <td>
                  <code>{e.action}</code>
                </td>
                <td>
                  <span class="muted small">{e.target_type}</span> <code>{e.target_id}</code>
                </td>
                <td>{e.detail || "—"}</td>
                <td class="small">
                  {e.ip ?? "—"} <span class="muted">{e.request_id ?? ""}</span>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      <LoadMore list={list} id="audit" count={(n) => t("admin.entriesShown", { count: n })} />
    </main>
  );
}
