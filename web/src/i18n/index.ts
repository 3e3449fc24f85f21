/**
 * Every string the apps show comes from a catalogue (ru.json, en.json): ICU MessageFormat
 * messages, plurals by the locale's rules (Russian: one, few, many, other). The language
 * is the account's, else the one chosen on this device, else the browser's, else Russian.
 */
import { IntlMessageFormat } from "intl-messageformat";
import { useMemo } from "preact/hooks";
import { createStore, useStore } from "../lib/store";
import en from "./en.json";
import ru from "./ru.json";

export type Locale = "ru" | "en";
export const LOCALES: readonly Locale[] = ["ru", "en"];
export type MessageKey = keyof typeof ru;
export type Values = Record<string, string | number | Date | null | undefined>;

export const catalogues: Record<Locale, Record<string, string>> = { ru, en };

export const LOCALE_KEY = "tot.locale";

export function isLocale(value: unknown): value is Locale {
  return value === "ru" || value === "en";
}

/** The first of: the account's language, this device's choice, the browser's languages
 * (the first that is Russian or English), Russian. */
export function pickLocale(sources: {
  account?: string | null;
  stored?: string | null;
  browser?: readonly string[];
}): Locale {
  if (isLocale(sources.account)) return sources.account;
  if (isLocale(sources.stored)) return sources.stored;
  for (const tag of sources.browser ?? []) {
    const base = tag.toLowerCase().split("-")[0];
    if (isLocale(base)) return base;
  }
  return "ru";
}

function storedLocale(): string | null {
  try {
    return typeof localStorage === "undefined" ? null : localStorage.getItem(LOCALE_KEY);
  } catch {
    return null;
  }
}

export const locale$ = createStore<Locale>(
  pickLocale({
    stored: storedLocale(),
    browser: typeof navigator === "undefined" ? [] : navigator.languages ?? [navigator.language],
  }),
);

/** Switch the language on this device (the account's is saved by the profile). */
export function setLocale(locale: Locale, { remember = true } = {}): void {
  if (remember) {
    try {
      localStorage.setItem(LOCALE_KEY, locale);
    } catch {
      /* not kept */
    }
  }
  locale$.set(locale);
}

if (typeof document !== "undefined") {
  const apply = (locale: Locale): void => {
    document.documentElement.lang = locale;
  };
  apply(locale$.get());
  locale$.subscribe(apply);
}

const compiled = new Map<string, IntlMessageFormat>();

export class MissingMessageError extends Error {}

export function translate(locale: Locale, key: MessageKey, values?: Values): string {
  const id = `${locale}\u0000${key}`;
  let format = compiled.get(id);
  if (!format) {
    const source = catalogues[locale][key];
    if (source === undefined) {
      if (import.meta.env?.DEV || import.meta.env?.MODE === "test") throw new MissingMessageError(`${locale}: ${key}`);
      return key;
    }
    format = new IntlMessageFormat(source, locale, undefined, { ignoreTag: true });
    compiled.set(id, format);
  }
  const out = format.format(values as Record<string, string | number | Date>);
  return Array.isArray(out) ? out.join("") : String(out);
}

export type Translate = (key: MessageKey, values?: Values) => string;

export function useT(): Translate {
  const locale = useStore(locale$);
  return useMemo(() => (key: MessageKey, values?: Values) => translate(locale, key, values), [locale]);
}

export function useLocale(): Locale {
  return useStore(locale$);
}
