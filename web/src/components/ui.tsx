import type { ComponentChildren, JSX } from "preact";
import { useEffect, useState } from "preact/hooks";
import { LOCALES, setLocale, useLocale, useT, type Locale } from "../i18n";

export function Field({
  id,
  label,
  error,
  hint,
  children,
}: {
  id: string;
  label: string;
  error?: string | null;
  hint?: string;
  children: ComponentChildren;
}) {
  return (
    <div class={`field${error ? " invalid" : ""}`}>
      <label for={id}>{label}</label>
      {children}
      {hint && !error && (
        <p class="hint" id={`${id}-hint`}>
          {hint}
        </p>
      )}
      {error && (
        <p class="error" id={`${id}-error`} role="alert">
          {error}
        </p>
      )}
    </div>
  );
}

export function Alert({ children, id, kind = "error" }: { children: ComponentChildren; id?: string; kind?: "error" | "info" }) {
  if (!children) return null;
  return (
    <p id={id} class={kind === "error" ? "error" : "info"} role={kind === "error" ? "alert" : "status"}>
      {children}
    </p>
  );
}

export function Button(props: JSX.ButtonHTMLAttributes<HTMLButtonElement> & { kind?: "primary" | "danger" | "plain"; busy?: boolean }) {
  const { kind = "plain", busy = false, class: cls = "", children, disabled, type = "button", ...rest } = props;
  return (
    <button {...rest} type={type} class={`btn ${kind} ${cls}`} disabled={disabled || busy} aria-busy={busy ? "true" : undefined}>
      {children}
    </button>
  );
}

export function LanguageSwitch({ onChange }: { onChange?: (locale: Locale) => void }) {
  const t = useT();
  const locale = useLocale();
  return (
    <div class="lang" role="group" aria-label={t("language.switch")}>
      {LOCALES.map((l) => (
        <button
          key={l}
          type="button"
          class={`lang-btn${l === locale ? " on" : ""}`}
          lang={l}
          aria-pressed={l === locale ? "true" : "false"}
          onClick={() => {
            setLocale(l);
            onChange?.(l);
          }}
        >
          {l === "ru" ? "RU" : "EN"}
          <span class="sr-only">{l === "ru" ? " — Русский" : " — English"}</span>
        </button>
      ))}
    </div>
  );
}

/** The current time, ticking every `everyMs`. */
export function useNow(everyMs = 1000): number {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    const timer = setInterval(() => setNow(Date.now()), everyMs);
    return () => clearInterval(timer);
  }, [everyMs]);
  return now;
}

/** Moves focus to the page's heading when the screen changes (screen readers hear it). */
export function useFocusHeading(key: string): void {
  useEffect(() => {
    const heading = document.querySelector<HTMLElement>("main h1");
    if (heading) {
      heading.tabIndex = -1;
      heading.focus({ preventScroll: true });
    }
  }, [key]);
}

export function Spinner({ label }: { label: string }) {
  return (
    <p class="loading" role="status">
      {label}
    </p>
  );
}
