/** Licence and diploma files: what is accepted, checked before anything is sent. */
import { api } from "../../lib/http";
import type { MessageKey } from "../../i18n";

/** What the engine takes (it reads the type from the bytes too). */
export const DOCUMENT_TYPES = ["application/pdf", "image/jpeg", "image/png"] as const;
export const MAX_DOCUMENT_BYTES = 10 * 1024 * 1024;

export interface DocumentOut {
  id: string;
  document_id?: string;
  kind: string;
  number: string;
  issued_by: string;
  valid_until: string | null;
  uploaded_at: string;
  sha256: string;
  /** The scan is stored on the engine (issue 14's backend; absent on an older one). */
  has_file?: boolean;
  review?: "pending" | "approved" | "rejected";
  review_reason?: string | null;
}

/** null when the file will do, else why not. The type is read from the first bytes too:
 * a renamed file is refused. */
export function checkDocumentFile(file: { type: string; size: number }, head: Uint8Array): MessageKey | null {
  if (file.size === 0) return "documents.empty";
  if (file.size > MAX_DOCUMENT_BYTES) return "documents.tooBig";
  if (!(DOCUMENT_TYPES as readonly string[]).includes(file.type)) return "documents.wrongType";
  const sniffed = sniff(head);
  if (sniffed !== file.type) return "documents.wrongType";
  return null;
}

/** The type a file's first bytes say. */
export function sniff(b: Uint8Array): string | null {
  const starts = (...bytes: number[]) => bytes.every((v, i) => b[i] === v);
  if (starts(0x25, 0x50, 0x44, 0x46, 0x2d)) return "application/pdf"; // %PDF-
  if (starts(0xff, 0xd8, 0xff)) return "image/jpeg";
  if (starts(0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a)) return "image/png";
  return null;
}

export async function sha256Hex(data: ArrayBuffer): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", data);
  return [...new Uint8Array(digest)].map((x) => x.toString(16).padStart(2, "0")).join("");
}

export function listDocuments(): Promise<DocumentOut[]> {
  return api<DocumentOut[]>("/doctors/me/documents");
}

export function addDocument(body: { kind: string; number: string; issued_by: string; valid_until: string | null; sha256: string }): Promise<DocumentOut> {
  return api<DocumentOut>("/doctors/me/documents", { method: "POST", body });
}

/** The scan itself, after its document: multipart, part `file`. */
export function uploadDocumentFile(documentId: string, file: Blob, name: string): Promise<DocumentOut> {
  const form = new FormData();
  form.append("file", file, name);
  return api<DocumentOut>(`/doctors/me/documents/${encodeURIComponent(documentId)}/file`, { method: "POST", body: form });
}
