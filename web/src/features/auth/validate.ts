/** Checks made before a form is sent, each naming its message. */
import type { MessageKey } from "../../i18n";

export function checkEmail(value: string): MessageKey | null {
  const v = value.trim();
  if (!v) return "validation.required";
  if (!/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(v) || v.length > 254) return "validation.email";
  return null;
}

export function checkPassword(value: string, { registering }: { registering: boolean }): MessageKey | null {
  if (!value) return "validation.required";
  if (registering && value.length < 10) return "validation.passwordShort";
  if (value.length > 128) return "validation.passwordLong";
  return null;
}

/** Digits with an optional +, 7 to 15 of them; spaces, dashes and brackets are dropped. */
export function normalisePhone(value: string): string {
  return value.replace(/[\s()-]/g, "");
}

export function checkPhone(value: string): MessageKey | null {
  const v = normalisePhone(value);
  if (!v) return null;
  return /^\+?[0-9]{7,15}$/.test(v) ? null : "validation.phone";
}

export function checkName(value: string): MessageKey | null {
  return value.length > 100 ? "validation.tooLong" : null;
}
