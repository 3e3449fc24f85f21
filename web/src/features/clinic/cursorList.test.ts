import { describe, expect, it } from "vitest";
import { createCursorList, pageQuery, type Page } from "./cursorList";

interface Row {
  id: number;
}

/** A server of 120 rows, 50 a page, filtered by "even". */
function server() {
  const calls: string[] = [];
  const fetchPage = async (query: string): Promise<Page<Row>> => {
    calls.push(query);
    const q = new URLSearchParams(query);
    const rows = Array.from({ length: 120 }, (_, i) => ({ id: i })).filter((r) => (q.get("even") === "true" ? r.id % 2 === 0 : true));
    const start = Number(q.get("cursor") ?? 0);
    const limit = Number(q.get("limit"));
    const items = rows.slice(start, start + limit);
    return { items, next_cursor: start + limit < rows.length ? String(start + limit) : null };
  };
  return { calls, fetchPage };
}

describe("cursor lists", () => {
  it("leave empty filters out of the query", () => {
    expect(pageQuery({ q: "", role: "doctor", blocked: null, n: 0 }, null, 50)).toBe("role=doctor&n=0&limit=50");
    expect(pageQuery({}, "abc", 20)).toBe("cursor=abc&limit=20");
  });

  it("load page by page, never the whole table, until there is no next cursor", async () => {
    const { calls, fetchPage } = server();
    const list = createCursorList(fetchPage);
    await list.reload();
    expect(list.get().items).toHaveLength(50);
    expect(list.get().nextCursor).toBe("50");
    await list.more();
    await list.more();
    expect(list.get().items.map((r) => r.id)).toEqual(Array.from({ length: 120 }, (_, i) => i));
    expect(list.get().nextCursor).toBeNull();
    await list.more(); // nothing more to ask
    expect(calls).toEqual(["limit=50", "cursor=50&limit=50", "cursor=100&limit=50"]);
  });

  it("start again from the first page when the filters change, dropping a late answer", async () => {
    const { fetchPage } = server();
    let release: () => void = () => undefined;
    let slow = true;
    const list = createCursorList<Row>(async (q) => {
      if (slow) {
        slow = false;
        await new Promise<void>((r) => (release = r));
      }
      return fetchPage(q);
    });
    const first = list.reload({});
    const second = list.reload({ even: true });
    await second;
    release();
    await first;
    expect(list.get().filters).toEqual({ even: true });
    expect(list.get().items.every((r) => r.id % 2 === 0)).toBe(true);
    expect(list.get().items).toHaveLength(50);
  });

  it("keep what it has on an error, say so, and update or drop one item", async () => {
    let fail = false;
    const { fetchPage } = server();
    const list = createCursorList<Row>((q) => (fail ? Promise.reject(new Error("down")) : fetchPage(q)));
    await list.reload();
    fail = true;
    await list.more();
    expect(list.get().items).toHaveLength(50);
    expect(list.get().error).toBeInstanceOf(Error);
    expect(list.get().loading).toBe(false);
    list.update((r) => r.id === 3, () => null);
    list.update((r) => r.id === 4, (r) => ({ id: r.id + 1000 }));
    expect(list.get().items.slice(2, 5).map((r) => r.id)).toEqual([2, 1004, 5]);
  });
});
