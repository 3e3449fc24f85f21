/** A list read page by page through the API's cursors ({items, next_cursor}): never the
 * whole table. The filters go to the server; changing them starts again from the first
 * page, and an answer to an older query is dropped. Pure (a store), tested without a DOM. */
import { createStore, type Store } from "../../lib/store";

export interface Page<T> {
  items: T[];
  next_cursor: string | null;
}

export type Filters = Record<string, string | number | boolean | null | undefined>;

export interface CursorListState<T> {
  items: T[];
  nextCursor: string | null;
  /** The first page came back (so "nothing found" can be said). */
  loaded: boolean;
  loading: boolean;
  error: unknown;
  filters: Filters;
}

export interface CursorList<T> extends Store<CursorListState<T>> {
  /** New filters: the list starts again from the first page. */
  reload(filters?: Filters): Promise<void>;
  /** The next page, appended (nothing when there is no next page or one is loading). */
  more(): Promise<void>;
  /** Replace one item in place (after an action on it). */
  update(match: (item: T) => boolean, next: (item: T) => T | null): void;
}

/** The query string of a page: empty filters are left out. */
export function pageQuery(filters: Filters, cursor: string | null, limit: number): string {
  const q = new URLSearchParams();
  for (const [key, value] of Object.entries(filters)) {
    if (value === null || value === undefined || value === "") continue;
    q.set(key, String(value));
  }
  if (cursor) q.set("cursor", cursor);
  q.set("limit", String(limit));
  return q.toString();
}

export function createCursorList<T>(
  fetchPage: (query: string) => Promise<Page<T>>,
  { limit = 50, filters = {} as Filters } = {},
): CursorList<T> {
  const store = createStore<CursorListState<T>>({
    items: [],
    nextCursor: null,
    loaded: false,
    loading: false,
    error: null,
    filters,
  });
  let generation = 0;

  async function load(cursor: string | null, gen: number): Promise<void> {
    const { filters: current } = store.get();
    store.set((s) => ({ ...s, loading: true, error: null }));
    try {
      const page = await fetchPage(pageQuery(current, cursor, limit));
      if (gen !== generation) return; // the filters changed meanwhile
      store.set((s) => ({
        ...s,
        // An answer without items (an older engine's page) reads as an empty page.
        items: cursor ? [...s.items, ...(page?.items ?? [])] : page?.items ?? [],
        nextCursor: page?.next_cursor ?? null,
        loaded: true,
        loading: false,
      }));
    } catch (exc) {
      if (gen !== generation) return;
      store.set((s) => ({ ...s, loading: false, error: exc, loaded: s.loaded || cursor === null }));
    }
  }

  return {
    ...store,
    reload(next) {
      generation += 1;
      store.set((s) => ({ ...s, items: [], nextCursor: null, loaded: false, filters: next ?? s.filters }));
      return load(null, generation);
    },
    more() {
      const s = store.get();
      if (!s.nextCursor || s.loading) return Promise.resolve();
      return load(s.nextCursor, generation);
    },
    update(match, next) {
      store.set((s) => ({
        ...s,
        items: s.items.flatMap((item) => {
          if (!match(item)) return [item];
          const changed = next(item);
          return changed === null ? [] : [changed];
        }),
      }));
    },
  };
}
