import { readFileSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { IntlMessageFormat } from "intl-messageformat";
import { describe, expect, it } from "vitest";
import en from "./en.json";
import ru from "./ru.json";
import { pickLocale, translate } from "./index";

const SRC = join(__dirname, "..");

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sources(path);
    return /\.(ts|tsx)$/.test(name) && !/\.test\./.test(name) ? [path] : [];
  });
}

/** Every string in the code that looks like a message key ("area.name"). */
function keysInCode(): Set<string> {
  const keys = new Set<string>();
  for (const file of sources(SRC)) {
    const text = readFileSync(file, "utf8");
    for (const m of text.matchAll(/["'`]([a-z][A-Za-z]*\.[A-Za-z_]+)["'`]/g)) keys.add(m[1]!);
  }
  return keys;
}

const NOT_MESSAGES = /^(tot\.|maplibre|sw\.js|NavigationControl|Map\.|manifest\.|icon\.)/;

describe("catalogues", () => {
  it("have the same keys in Russian and English", () => {
    expect(Object.keys(en).sort()).toEqual(Object.keys(ru).sort());
  });

  it("hold every key the code uses", () => {
    const used = [...keysInCode()].filter((k) => !NOT_MESSAGES.test(k) && !/\.(ts|tsx|json|css|png|svg)$/.test(k));
    const missingRu = used.filter((k) => !(k in ru));
    const missingEn = used.filter((k) => !(k in en));
    expect(missingRu).toEqual([]);
    expect(missingEn).toEqual([]);
    expect(used.length).toBeGreaterThan(200);
  });

  it("parse as ICU messages, with Russian plurals naming one, few and many", () => {
    for (const [locale, catalogue] of [["ru", ru], ["en", en]] as const) {
      for (const [key, message] of Object.entries(catalogue)) {
        expect(() => new IntlMessageFormat(message, locale), `${locale} ${key}`).not.toThrow();
        expect(message.trim(), `${locale} ${key}`).not.toBe("");
        if (locale === "ru" && message.includes("plural,")) {
          for (const form of ["one {", "few {", "many {", "other {"]) expect(message, key).toContain(form);
        }
      }
    }
  });

  it("are translated: the Russian is in Cyrillic where the English has words", () => {
    const same = Object.keys(ru).filter((k) => (ru as Record<string, string>)[k] === (en as Record<string, string>)[k]);
    expect(same).toEqual([]);
  });
});

describe("translate", () => {
  it("applies Russian plural rules", () => {
    const n = (count: number) => translate("ru", "visit.doctorsCount", { count });
    expect(n(0)).toBe("нет врачей");
    expect(n(1)).toBe("1 врач");
    expect(n(2)).toBe("2 врача");
    expect(n(5)).toBe("5 врачей");
    expect(n(11)).toBe("11 врачей");
    expect(n(21)).toBe("21 врач");
    expect(n(22)).toBe("22 врача");
    expect(n(25)).toBe("25 врачей");
    expect(n(101)).toBe("101 врач");
    expect(translate("ru", "offer.secondsLeft", { seconds: 1 })).toBe("Осталась 1 секунда");
    expect(translate("ru", "offer.secondsLeft", { seconds: 3 })).toBe("Осталось 3 секунды");
    expect(translate("ru", "offer.secondsLeft", { seconds: 14 })).toBe("Осталось 14 секунд");
  });

  it("applies English plural rules", () => {
    expect(translate("en", "visit.doctorsCount", { count: 1 })).toBe("1 doctor");
    expect(translate("en", "visit.doctorsCount", { count: 21 })).toBe("21 doctors");
    expect(translate("en", "visit.doctorsCount", { count: 0 })).toBe("no doctors");
  });

  it("fills arguments", () => {
    expect(translate("ru", "home.helloName", { name: "Анна" })).toBe("Здравствуйте, Анна!");
    expect(translate("en", "emergency.dial", { number: "103" })).toBe("Call 103");
  });

  it("throws in tests on a key neither catalogue has", () => {
    expect(() => translate("ru", "no.such" as never)).toThrow();
  });
});

describe("pickLocale", () => {
  it("prefers the account, then this device, then the browser, then Russian", () => {
    expect(pickLocale({ account: "en", stored: "ru", browser: ["ru-RU"] })).toBe("en");
    expect(pickLocale({ account: null, stored: "en", browser: ["ru-RU"] })).toBe("en");
    expect(pickLocale({ browser: ["de-DE", "en-US", "ru"] })).toBe("en");
    expect(pickLocale({ browser: ["ru-RU"] })).toBe("ru");
    expect(pickLocale({ account: "fr", stored: "xx", browser: ["de"] })).toBe("ru");
    expect(pickLocale({})).toBe("ru");
  });
});
