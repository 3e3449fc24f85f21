/**
 * The session. The access token (15 minutes) lives in this module's memory only: nothing
 * else on the page, and no storage, can read it after a reload. The refresh token must
 * survive a reload (and an installed PWA being reopened), so it is kept in localStorage
 * under one key; it is single-use and rotated on every refresh, and the engine revokes the
 * whole login when a spent one comes back. Tabs take turns refreshing (Web Locks), each
 * reading the newest token, so two tabs never spend the same one. It never goes into a
 * URL or a log.
 */
import { ApiError, NetworkError, api, useTokens } from "../../lib/http";
import { createStore } from "../../lib/store";
import type { Tokens, User } from "./types";

export const REFRESH_KEY = "tot.refresh";

export type SessionState =
  | { status: "unknown" }
  | { status: "signedOut"; reason?: "expired" }
  | { status: "signedIn"; user: User };

export const session$ = createStore<SessionState>({ status: "unknown" });

interface Memory {
  access: string | null;
  accessExpires: number; // epoch ms
}
const memory: Memory = { access: null, accessExpires: 0 };

export interface KeyValue {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
  removeItem(key: string): void;
}

let storage: KeyValue | null = typeof localStorage === "undefined" ? null : localStorage;

/** For tests: another storage. */
export function useStorage(next: KeyValue | null): void {
  storage = next;
}

function storedRefresh(): string | null {
  try {
    return storage?.getItem(REFRESH_KEY) ?? null;
  } catch {
    return null;
  }
}

function keep(tokens: Tokens, now = Date.now()): void {
  memory.access = tokens.access_token;
  memory.accessExpires = now + tokens.expires_in * 1000;
  try {
    storage?.setItem(REFRESH_KEY, tokens.refresh_token);
  } catch {
    /* private mode: the session lasts as long as the page */
  }
}

function forget(): void {
  memory.access = null;
  memory.accessExpires = 0;
  try {
    storage?.removeItem(REFRESH_KEY);
  } catch {
    /* nothing kept */
  }
}

async function withLock<T>(work: () => Promise<T>): Promise<T> {
  const locks = typeof navigator !== "undefined" ? navigator.locks : undefined;
  if (locks?.request) return locks.request("tot.refresh", work) as Promise<T>;
  return work();
}

let refreshing: Promise<string | null> | null = null;

/** A new access token from the stored refresh token; null when the session is over. One
 * at a time in this tab, and across tabs through a lock. */
export function refresh(): Promise<string | null> {
  if (!refreshing) {
    refreshing = withLock(async () => {
      const token = storedRefresh();
      if (!token) {
        memory.access = null;
        return null;
      }
      try {
        const tokens = await api<Tokens>("/auth/refresh", {
          method: "POST",
          body: { refresh_token: token },
          auth: false,
        });
        keep(tokens);
        return memory.access;
      } catch (exc) {
        if (exc instanceof ApiError && (exc.status === 401 || exc.status === 403)) {
          forget();
          if (session$.get().status === "signedIn") session$.set({ status: "signedOut", reason: "expired" });
          return null;
        }
        throw exc; // offline or a server error: the session may still be good
      }
    }).finally(() => {
      refreshing = null;
    });
  }
  return refreshing;
}

useTokens({
  access: () => memory.access,
  renew: () => refresh().catch(() => null),
});

/** An access token good for at least another 30 s (for the WebSocket handshake). */
export async function freshAccessToken(): Promise<string | null> {
  if (memory.access && memory.accessExpires - Date.now() > 30_000) return memory.access;
  return refresh();
}

export async function loadMe(): Promise<User> {
  const user = await api<User>("/auth/me");
  session$.set({ status: "signedIn", user });
  return user;
}

/** At start: the stored refresh token brings the session back. */
export async function restore(): Promise<void> {
  if (!storedRefresh()) {
    session$.set({ status: "signedOut" });
    return;
  }
  try {
    const token = await refresh();
    if (!token) {
      session$.set({ status: "signedOut" });
      return;
    }
    await loadMe();
  } catch (exc) {
    if (exc instanceof NetworkError) {
      // Offline: the shell shows, and the session is tried again when asked.
      session$.set({ status: "signedOut" });
      return;
    }
    session$.set({ status: "signedOut" });
  }
}

export async function signIn(email: string, password: string): Promise<User> {
  const tokens = await api<Tokens>("/auth/login", { method: "POST", body: { email, password }, auth: false });
  keep(tokens);
  return loadMe();
}

/** Signed in with tokens the API gave otherwise (an accepted invitation). */
export async function signInWithTokens(tokens: Tokens): Promise<User> {
  keep(tokens);
  return loadMe();
}

export interface Registration {
  email: string;
  password: string;
  first_name?: string;
  last_name?: string;
  phone?: string | null;
}

export async function registerPatient(form: Registration): Promise<User> {
  await api<User>("/auth/register", { method: "POST", body: form, auth: false });
  return signIn(form.email, form.password);
}

export async function signOut(): Promise<void> {
  const token = storedRefresh();
  forget();
  session$.set({ status: "signedOut" });
  if (token) {
    await api("/auth/logout", { method: "POST", body: { refresh_token: token }, auth: false }).catch(() => null);
  }
}

export function updateUser(user: User): void {
  session$.set({ status: "signedIn", user });
}

/** For tests. */
export function accessTokenForTests(): string | null {
  return memory.access;
}
