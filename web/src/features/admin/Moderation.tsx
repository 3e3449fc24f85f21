/** Doctors awaiting verification, oldest first, with their documents: open a scan,
 * approve, or reject with a reason that the doctor sees. */
import { useEffect, useMemo, useState } from "preact/hooks";
import { Alert, Button, Field, useFocusHeading } from "../../components/ui";
import { errorText } from "../../components/errors";
import { useLocale, useT, type MessageKey } from "../../i18n";
import { formatDate, formatDateTime } from "../../i18n/format";
import { useStore } from "../../lib/store";
import { downloadFile } from "../clinic/api";
import { createCursorList } from "../clinic/cursorList";
import { LoadMore } from "../clinic/desk";
import { adminApi, type AdminDocument, type ModerationItem } from "./api";

const KIND: Record<string, MessageKey> = {
  license: "documents.license",
  diploma: "documents.diploma",
  certificate: "documents.certificate",
};
const REVIEW: Record<string, MessageKey> = {
  pending: "admin.reviewPending",
  approved: "admin.reviewApproved",
  rejected: "admin.reviewRejected",
};

export function Moderation() {
  const t = useT();
  useFocusHeading("admin-moderation");
  const list = useMemo(() => createCursorList<ModerationItem>(adminApi.moderation, { limit: 20 }), []);
  const s = useStore(list);
  useEffect(() => void list.reload(), [list]);
  return (
    <main id="main">
      <h1>{t("admin.moderationTitle")}</h1>
      <p class="muted small">{t("admin.moderationHelp")}</p>
      <ol class="list" id="moderation">
        {s.items.map((item) => (
          <ModerationCard key={item.doctor_id} item={item} onDone={() => list.update((x) => x.doctor_id === item.doctor_id, () => null)} />
        ))}
      </ol>
      <LoadMore list={list} id="moderation" count={(n) => t("admin.awaitingCount", { count: n })} />
    </main>
  );
}

function ModerationCard({ item, onDone }: { item: ModerationItem; onDone: () => void }) {
  const t = useT();
  const locale = useLocale();
  const [rejecting, setRejecting] = useState(false);
  const [reason, setReason] = useState("");
  const [reasonError, setReasonError] = useState<string | null>(null);
  const [failure, setFailure] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const id = item.doctor_id;

  const decide = async (decision: "approve" | "reject") => {
    setFailure(null);
    if (decision === "reject") {
      const r = reason.trim();
      if (!r || r.length > 500) {
        setReasonError(t(r ? "admin.reasonTooLong" : "admin.reasonRequired"));
        document.getElementById(`reject-reason-${id}`)?.focus();
        return;
      }
    }
    setReasonError(null);
    setBusy(true);
    try {
      await adminApi.decide(id, decision, decision === "reject" ? reason.trim() : reason.trim() || "");
      onDone();
    } catch (exc) {
      setFailure(errorText(t, exc));
    } finally {
      setBusy(false);
    }
  };

  const open = (doc: AdminDocument) =>
    downloadFile(adminApi.documentFileUrl(doc.document_id), null, { open: true }).catch((exc: unknown) => setFailure(errorText(t, exc)));

  return (
    <li class="panel" data-doctor-id={id} aria-labelledby={`mod-name-${id}`}>
      <div class="row">
        <h2 id={`mod-name-${id}`}>{`${item.first_name} ${item.last_name}`.trim() || item.email}</h2>
        <span class="muted small">{t("admin.submittedAt", { when: formatDateTime(item.submitted_at, locale) })}</span>
      </div>
      <p class="muted small">
        {item.email}
        {item.verification === "rejected" && (
          <>
            {" · "}
            <span class="badge">{t("admin.rejectedBefore")}</span>
          </>
        )}
      </p>
      {item.documents.length ? (
        <ul class="docs">
          {item.documents.map((doc) => (
            <li key={doc.document_id} data-document-id={doc.document_id}>
              <strong>{KIND[doc.kind] ? t(KIND[doc.kind]!) : t("documents.other")}</strong>
              {doc.number && <span>№ {doc.number}</span>}
              {doc.issued_by && <span class="muted">{doc.issued_by}</span>}
              {doc.valid_until && <span class="muted">{t("documents.validUntil", { date: formatDate(doc.valid_until, locale) })}</span>}
              <span class={`badge ${doc.review === "approved" ? "ok" : doc.review === "pending" ? "warn" : ""}`}>{t(REVIEW[doc.review] ?? "admin.reviewPending")}</span>
              {doc.has_file ? (
                <Button id={`open-${doc.document_id}`} onClick={() => void open(doc)}>
                  {t("admin.openFile")}
                </Button>
              ) : (
                <span class="muted small">{t("admin.noFile")}</span>
              )}
            </li>
          ))}
        </ul>
      ) : (
        <p class="muted">{t("documents.none")}</p>
      )}
      {rejecting && (
        <Field id={`reject-reason-${id}`} label={t("admin.rejectReason")} error={reasonError} hint={t("admin.rejectHint")}>
          <textarea
            id={`reject-reason-${id}`}
            rows={2}
            maxLength={500}
            value={reason}
            onInput={(e) => setReason(e.currentTarget.value)}
            aria-invalid={reasonError ? "true" : undefined}
            aria-describedby={reasonError ? `reject-reason-${id}-error` : `reject-reason-${id}-hint`}
          />
        </Field>
      )}
      <Alert id={`mod-error-${id}`}>{failure}</Alert>
      <div class="row">
        <Button kind="primary" id={`approve-${id}`} busy={busy} onClick={() => void decide("approve")}>
          {t("admin.approve")}
        </Button>
        {rejecting ? (
          <Button kind="danger" id={`reject-confirm-${id}`} busy={busy} onClick={() => void decide("reject")}>
            {t("admin.rejectConfirm")}
          </Button>
        ) : (
          <Button id={`reject-${id}`} onClick={() => setRejecting(true)}>
            {t("admin.reject")}
          </Button>
        )}
      </div>
    </li>
  );
}
