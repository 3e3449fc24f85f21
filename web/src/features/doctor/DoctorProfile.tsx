import { useEffect, useState } from "preact/hooks";
import { errorText } from "../../components/errors";
import { Alert, Button, Field, LanguageSwitch, useFocusHeading } from "../../components/ui";
import { useLocale, useT, type MessageKey } from "../../i18n";
import { formatDate, formatRating } from "../../i18n/format";
import { loadMe, signOut, updateUser } from "../auth/session";
import type { User } from "../auth/types";
import { updateProfile } from "../patient/api";
import { useWords } from "../patient/components";
import { addDocument, checkDocumentFile, listDocuments, sha256Hex, uploadDocumentFile, type DocumentOut } from "./documents";

const KINDS: { code: string; key: MessageKey }[] = [
  { code: "license", key: "documents.license" },
  { code: "diploma", key: "documents.diploma" },
  { code: "certificate", key: "documents.certificate" },
];

export function DoctorProfile({ user }: { user: User }) {
  const t = useT();
  const locale = useLocale();
  const words = useWords();
  useFocusHeading("dprofile");
  const [docs, setDocs] = useState<DocumentOut[] | null>(null);
  const [kind, setKind] = useState("license");
  const [number, setNumber] = useState("");
  const [issuer, setIssuer] = useState("");
  const [validUntil, setValidUntil] = useState("");
  const [file, setFile] = useState<File | null>(null);
  const [errors, setErrors] = useState<Partial<Record<string, MessageKey>>>({});
  const [failure, setFailure] = useState<string | null>(null);
  const [done, setDone] = useState(false);
  const [busy, setBusy] = useState(false);

  useEffect(() => {
    listDocuments().then(setDocs).catch((exc) => setFailure(errorText(t, exc)));
    void loadMe().catch(() => undefined); // the verification may have changed
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, []);

  const upload = async (event: Event) => {
    event.preventDefault();
    setDone(false);
    setFailure(null);
    const found: Partial<Record<string, MessageKey>> = {};
    if (!number.trim()) found.number = "validation.required";
    if (!issuer.trim()) found.issuer = "validation.required";
    let bytes: ArrayBuffer | null = null;
    if (!file) found.file = "documents.chooseFile";
    else {
      bytes = await file.arrayBuffer();
      const problem = checkDocumentFile(file, new Uint8Array(bytes.slice(0, 16)));
      if (problem) found.file = problem;
    }
    setErrors(found);
    if (Object.keys(found).length || !bytes) return;
    setBusy(true);
    try {
      const sha256 = await sha256Hex(bytes);
      const added = await addDocument({
        kind,
        number: number.trim(),
        issued_by: issuer.trim(),
        valid_until: validUntil ? new Date(`${validUntil}T00:00:00Z`).toISOString() : null,
        sha256,
      });
      setDocs((d) => [...(d ?? []), added]);
      // The scan itself, for the reviewers: only admins and this doctor can open it.
      const doc = await uploadDocumentFile(added.document_id ?? added.id, file!, file!.name);
      setDocs((d) => (d ?? []).map((x) => (x.id === doc.id ? doc : x)));
      setDone(true);
      setNumber("");
      setIssuer("");
      setFile(null);
    } catch (exc) {
      setFailure(errorText(t, exc));
    } finally {
      setBusy(false);
    }
  };

  return (
    <main id="main">
      <h1>{t("dprofile.title")}</h1>
      <section class="card" aria-labelledby="who-title">
        <h2 id="who-title">{[user.first_name, user.last_name].filter(Boolean).join(" ") || user.email}</h2>
        <p>{words.specialization(user.specialization)}</p>
        <p class="muted">
          {user.rating !== null ? t("doctor.rating", { rating: formatRating(user.rating, locale) }) : t("doctor.noRating")}
          {user.languages.length ? ` · ${user.languages.map(words.language).join(", ")}` : ""}
        </p>
        <p id="verification" data-verified={user.is_verified ? "true" : "false"} data-state={user.verification ?? (user.is_verified ? "verified" : "pending")} class={user.is_verified ? "ok" : "warn"}>
          {user.is_verified
            ? t("verify.verified")
            : user.verification === "rejected"
              ? t("verify.rejected", { reason: user.verification_reason ?? "" })
              : t("verify.pending")}
        </p>
      </section>
      <section class="card" aria-labelledby="docs-title">
        <h2 id="docs-title">{t("documents.title")}</h2>
        {docs !== null && docs.length === 0 && <p class="muted">{t("documents.none")}</p>}
        <ul class="list" id="documents">
          {(docs ?? []).map((d) => (
            <li key={d.id} class="row">
              <span>
                <b>{t(KINDS.find((k) => k.code === d.kind)?.key ?? "documents.other")}</b> № {d.number} · {d.issued_by}
                {d.valid_until ? ` · ${t("documents.validUntil", { date: formatDate(d.valid_until, locale) })}` : ""}
              </span>
              <DocumentReview doc={d} verified={user.is_verified} />
            </li>
          ))}
        </ul>
        <form onSubmit={upload} noValidate>
          <h3>{t("documents.add")}</h3>
          <Field id="doc-kind" label={t("documents.kind")}>
            <select id="doc-kind" value={kind} onChange={(e) => setKind((e.target as HTMLSelectElement).value)}>
              {KINDS.map((k) => (
                <option key={k.code} value={k.code}>
                  {t(k.key)}
                </option>
              ))}
            </select>
          </Field>
          <Field id="doc-number" label={t("documents.number")} error={errors.number ? t(errors.number) : null}>
            <input id="doc-number" maxLength={64} value={number} aria-invalid={errors.number ? "true" : undefined} onInput={(e) => setNumber((e.target as HTMLInputElement).value)} />
          </Field>
          <Field id="doc-issuer" label={t("documents.issuer")} error={errors.issuer ? t(errors.issuer) : null}>
            <input id="doc-issuer" maxLength={200} value={issuer} aria-invalid={errors.issuer ? "true" : undefined} onInput={(e) => setIssuer((e.target as HTMLInputElement).value)} />
          </Field>
          <Field id="doc-valid" label={t("documents.validUntilLabel")}>
            <input id="doc-valid" type="date" value={validUntil} onInput={(e) => setValidUntil((e.target as HTMLInputElement).value)} />
          </Field>
          <Field id="doc-file" label={t("documents.file")} error={errors.file ? t(errors.file) : null} hint={t("documents.fileHint")}>
            <input
              id="doc-file"
              type="file"
              accept="application/pdf,image/jpeg,image/png"
              aria-invalid={errors.file ? "true" : undefined}
              aria-describedby={errors.file ? "doc-file-error" : "doc-file-hint"}
              onChange={(e) => setFile((e.target as HTMLInputElement).files?.[0] ?? null)}
            />
          </Field>
          <Alert id="doc-failure">{failure}</Alert>
          {done && (
            <p class="info" role="status" id="doc-done">
              {t("documents.sent")}
            </p>
          )}
          <Button type="submit" kind="primary" id="doc-submit" busy={busy}>
            {t("documents.submit")}
          </Button>
        </form>
      </section>
      <section class="card" aria-labelledby="dlang">
        <h2 id="dlang">{t("profile.language")}</h2>
        <LanguageSwitch onChange={(l) => void updateProfile({ locale: l }).then(updateUser).catch(() => undefined)} />
      </section>
      <Button id="signout" onClick={() => void signOut()}>
        {t("signin.signOut")}
      </Button>
    </main>
  );
}

/** A document's review state as the engine keeps it (older engines: the account's). */
function DocumentReview({ doc, verified }: { doc: DocumentOut; verified: boolean }) {
  const t = useT();
  const review = doc.review ?? (verified ? "approved" : "pending");
  if (review === "rejected") {
    return (
      <span class="badge warn" data-review="rejected">
        {t("documents.rejected", { reason: doc.review_reason ?? "" })}
      </span>
    );
  }
  return (
    <span class={`badge ${review === "approved" ? "ok" : "warn"}`} data-review={review}>
      {review === "approved" ? t("documents.accepted") : doc.has_file === false ? t("documents.noScan") : t("documents.inReview")}
    </span>
  );
}
