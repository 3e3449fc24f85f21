import { afterEach, describe, expect, it, vi } from "vitest";
import { api } from "../../lib/http";
import { REFRESH_KEY, accessTokenForTests, restore, session$, signIn, signOut, useStorage } from "./session";
import { checkEmail, checkPassword, checkPhone } from "./validate";

function memoryStorage() {
  const data = new Map<string, string>();
  return { data, getItem: (k: string) => data.get(k) ?? null, setItem: (k: string, v: string) => void data.set(k, v), removeItem: (k: string) => void data.delete(k) };
}

const json = (status: number, body: unknown) => new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json" } });
const USER = { id: "u1", role: "patient", email: "a@b.ru", first_name: "", last_name: "", languages: [] };

afterEach(() => vi.unstubAllGlobals());

describe("the session", () => {
  it("keeps the access token in memory and only the refresh token in storage", async () => {
    const storage = memoryStorage();
    useStorage(storage);
    vi.stubGlobal("fetch", vi.fn(async (url: string) => (String(url).endsWith("/auth/login") ? json(200, { access_token: "A1", refresh_token: "R1", expires_in: 900, refresh_expires_in: 1 }) : json(200, USER))));
    await signIn("a@b.ru", "password-123");
    expect([...storage.data.entries()]).toEqual([[REFRESH_KEY, "R1"]]);
    expect(accessTokenForTests()).toBe("A1");
    expect(session$.get().status).toBe("signedIn");
  });

  it("comes back after a reload from the refresh token, rotating it", async () => {
    const storage = memoryStorage();
    storage.setItem(REFRESH_KEY, "R1");
    useStorage(storage);
    const calls: string[] = [];
    vi.stubGlobal("fetch", vi.fn(async (url: string, init: RequestInit) => {
      calls.push(`${String(url)} ${init.body ?? ""}`);
      if (String(url).endsWith("/auth/refresh")) return json(200, { access_token: "A2", refresh_token: "R2", expires_in: 900, refresh_expires_in: 1 });
      return json(200, USER);
    }));
    await restore();
    expect(session$.get().status).toBe("signedIn");
    expect(storage.getItem(REFRESH_KEY)).toBe("R2");
    expect(calls[0]).toContain('"refresh_token":"R1"');
  });

  it("renews once on a 401 and retries; a refused refresh signs out", async () => {
    const storage = memoryStorage();
    storage.setItem(REFRESH_KEY, "R1");
    useStorage(storage);
    let refreshes = 0;
    vi.stubGlobal("fetch", vi.fn(async (url: string, init: RequestInit) => {
      if (String(url).endsWith("/auth/refresh")) {
        refreshes += 1;
        return refreshes === 1 ? json(200, { access_token: "A3", refresh_token: "R3", expires_in: 900, refresh_expires_in: 1 }) : json(401, { detail: "spent" });
      }
      const auth = (init.headers as Record<string, string>).Authorization;
      return auth === "Bearer A3" ? json(200, { ok: 1 }) : json(401, { detail: "expired" });
    }));
    await expect(api("/bookings")).resolves.toEqual({ ok: 1 });
    expect(refreshes).toBe(1);
    session$.set({ status: "signedIn", user: USER as never });
    storage.setItem(REFRESH_KEY, "R-spent");
    vi.stubGlobal("fetch", vi.fn(async (url: string) => (String(url).endsWith("/auth/refresh") ? json(401, { detail: "spent" }) : json(401, {}))));
    await expect(api("/auth/me")).rejects.toMatchObject({ status: 401 });
    expect(session$.get()).toEqual({ status: "signedOut", reason: "expired" });
    expect(storage.getItem(REFRESH_KEY)).toBeNull();
  });

  it("signs out: the refresh token is gone and revoked on the server", async () => {
    const storage = memoryStorage();
    storage.setItem(REFRESH_KEY, "R9");
    useStorage(storage);
    const fetch = vi.fn(async () => new Response(null, { status: 204 }));
    vi.stubGlobal("fetch", fetch);
    await signOut();
    expect(storage.getItem(REFRESH_KEY)).toBeNull();
    expect(fetch).toHaveBeenCalledWith("/api/v1/auth/logout", expect.objectContaining({ body: JSON.stringify({ refresh_token: "R9" }) }));
  });
});

describe("form checks", () => {
  it("say what is wrong before anything is sent", () => {
    expect(checkEmail("")).toBe("validation.required");
    expect(checkEmail("nobody")).toBe("validation.email");
    expect(checkEmail("a@b.ru")).toBeNull();
    expect(checkPassword("short", { registering: true })).toBe("validation.passwordShort");
    expect(checkPassword("short", { registering: false })).toBeNull();
    expect(checkPhone("+7 (900) 123-45-67")).toBeNull();
    expect(checkPhone("12ab")).toBe("validation.phone");
    expect(checkPhone("")).toBeNull();
  });
});
