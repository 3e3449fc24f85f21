import { describe, expect, it } from "vitest";
import { translate } from "../../i18n";

describe("the desk apps' counts", () => {
  it("follow Russian plural rules", () => {
    const shown = (count: number) => translate("ru", "clinic.doctorsShown", { count });
    expect(shown(1)).toBe("Показан 1 врач");
    expect(shown(2)).toBe("Показаны 2 врача");
    expect(shown(5)).toBe("Показаны 5 врачей");
    expect(shown(21)).toBe("Показан 21 врач");
    expect(translate("ru", "clinic.documentsCount", { count: 3 })).toBe("3 документа");
    expect(translate("ru", "clinic.documentsCount", { count: 11 })).toBe("11 документов");
    expect(translate("ru", "admin.awaitingCount", { count: 1 })).toBe("1 врач ждёт проверки");
    expect(translate("ru", "admin.awaitingCount", { count: 4 })).toBe("4 врача ждут проверки");
    expect(translate("ru", "admin.entriesShown", { count: 50 })).toBe("Показаны 50 записей");
    expect(translate("ru", "clinic.polygon", { n: 2, count: 4 })).toBe("Участок 2: 4 вершины");
  });

  it("and English ones", () => {
    expect(translate("en", "clinic.doctorsShown", { count: 1 })).toBe("1 doctor shown");
    expect(translate("en", "clinic.doctorsShown", { count: 2 })).toBe("2 doctors shown");
    expect(translate("en", "clinic.vertices", { count: 1 })).toBe("1 vertex");
    expect(translate("en", "clinic.vertices", { count: 3 })).toBe("3 vertices");
  });
});
