/** JSON over HTTP to /api/v1, with the session's access token and one refresh on a 401. */

export const API = "/api/v1";

export interface Problem {
  title?: string;
  status?: number;
  detail?: string | null;
  errors?: { loc?: (string | number)[]; msg?: string }[] | null;
}

export class ApiError extends Error {
  readonly status: number;
  readonly problem: Problem | null;
  readonly retryAfterS: number | null;

  constructor(status: number, problem: Problem | null, retryAfterS: number | null = null) {
    super(problem?.detail || problem?.title || `HTTP ${status}`);
    this.name = "ApiError";
    this.status = status;
    this.problem = problem;
    this.retryAfterS = retryAfterS;
  }

  /** The names of the fields a 422 complains about (the last part of each `loc`). */
  get fields(): string[] {
    return (this.problem?.errors ?? [])
      .map((e) => e.loc?.[e.loc.length - 1])
      .filter((f): f is string => typeof f === "string");
  }
}

/** The network itself failed (offline, server down). */
export class NetworkError extends Error {
  constructor() {
    super("network");
    this.name = "NetworkError";
  }
}

export interface TokenSource {
  access(): string | null;
  /** A new access token after a 401, or null when the session is over. */
  renew(): Promise<string | null>;
}

let tokens: TokenSource = { access: () => null, renew: async () => null };

export function useTokens(source: TokenSource): void {
  tokens = source;
}

export interface RequestOptions {
  method?: string;
  body?: unknown;
  headers?: Record<string, string>;
  auth?: boolean;
  signal?: AbortSignal;
}

export async function api<T>(path: string, options: RequestOptions = {}): Promise<T> {
  const { method = "GET", body, headers = {}, auth = true, signal } = options;
  const send = async (token: string | null): Promise<Response> => {
    const h: Record<string, string> = { Accept: "application/json", ...headers };
    const form = typeof FormData !== "undefined" && body instanceof FormData;
    if (body !== undefined && !form) h["Content-Type"] = "application/json";
    if (auth && token) h.Authorization = `Bearer ${token}`;
    try {
      return await fetch(API + path, {
        method,
        headers: h,
        body: body === undefined ? undefined : form ? (body as FormData) : JSON.stringify(body),
        signal,
        credentials: "same-origin",
      });
    } catch (exc) {
      if (exc instanceof DOMException && exc.name === "AbortError") throw exc;
      throw new NetworkError();
    }
  };
  let response = await send(auth ? tokens.access() : null);
  if (response.status === 401 && auth) {
    const renewed = await tokens.renew();
    if (renewed) response = await send(renewed);
  }
  if (response.status === 204) return null as T;
  const data: unknown = await response.json().catch(() => null);
  if (!response.ok) {
    const retry = Number(response.headers.get("Retry-After"));
    throw new ApiError(response.status, data as Problem | null, Number.isFinite(retry) && retry > 0 ? retry : null);
  }
  return data as T;
}

/** A fresh random key for Idempotency-Key. */
export function newKey(): string {
  if (typeof crypto !== "undefined" && "randomUUID" in crypto) return crypto.randomUUID();
  return `k${Date.now().toString(36)}${Math.random().toString(36).slice(2)}`;
}
