/**
 * One gateway channel (`/ws/doctor`, `/ws/patient/<id>`). It reconnects on its own and
 * resumes with `?last_seq=&epoch=` so missed events are replayed; `request()` sends a
 * message with a `ref` and resolves with the reply that carries it. The access token goes
 * in the query (browsers cannot set headers on a WebSocket) and nowhere else.
 */
import { api } from "./http";

export type ChannelState = "connecting" | "open" | "reconnecting" | "closed" | "ended";

export interface GatewayMessage {
  type: string;
  ref?: string | number;
  seq?: number;
  epoch?: string;
  [field: string]: unknown;
}

interface MapInfo {
  ws_port?: number;
}

let wsPort: Promise<number> | null = null;

/** The gateway's port: from /api/v1/map/info (ws_port), else the roads' config. */
export function gatewayPort(): Promise<number> {
  if (!wsPort) {
    wsPort = (async () => {
      const info = await api<MapInfo>("/map/info", { auth: false });
      if (typeof info.ws_port === "number") return info.ws_port;
      const roads = await api<{ ws_port: number }>("/map/roads?limit=1", { auth: false });
      return roads.ws_port;
    })().catch((exc: unknown) => {
      wsPort = null;
      throw exc;
    });
  }
  return wsPort;
}

export interface ChannelOptions {
  token: () => Promise<string | null>;
  onMessage?: (message: GatewayMessage) => void;
  /** Sees a frame's text before it is parsed; true when it took the frame (never one with
   * a number or a ref: the operator's large `feed`, parsed in a worker). */
  onText?: (data: string) => boolean;
  onState?: (state: ChannelState) => void;
  onOpen?: () => void;
  /** For tests: the socket and the port. */
  socketFactory?: (url: string) => WebSocket;
  port?: () => Promise<number>;
}

export class Channel {
  lastSeq: number | null = null;
  epoch: string | null = null;
  socket: WebSocket | null = null;
  state: ChannelState = "connecting";
  private closed = false;
  private retry = 0;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private refs = new Map<string, { resolve: (m: GatewayMessage) => void; reject: (e: Error) => void }>();
  private nextRef = 1;

  constructor(
    readonly path: string,
    private readonly options: ChannelOptions,
  ) {}

  private setState(state: ChannelState): void {
    this.state = state;
    this.options.onState?.(state);
  }

  async connect(): Promise<void> {
    if (this.closed) return;
    this.setState(this.retry ? "reconnecting" : "connecting");
    let url: string;
    try {
      const [port, token] = await Promise.all([(this.options.port ?? gatewayPort)(), this.options.token()]);
      if (!token) {
        this.setState("ended"); // signed out: nothing to reconnect with
        return;
      }
      const scheme = location.protocol === "https:" ? "wss" : "ws";
      const params = new URLSearchParams({ token });
      if (this.lastSeq !== null && this.epoch) {
        params.set("last_seq", String(this.lastSeq));
        params.set("epoch", this.epoch);
      }
      url = `${scheme}://${location.hostname}:${port}${this.path}?${params}`;
    } catch {
      this.again();
      return;
    }
    const socket = (this.options.socketFactory ?? ((u: string) => new WebSocket(u)))(url);
    this.socket = socket;
    socket.addEventListener("open", () => {
      this.retry = 0;
      this.setState("open");
      this.options.onOpen?.();
    });
    socket.addEventListener("message", (event: MessageEvent) => this.receive(String(event.data)));
    socket.addEventListener("close", (event: CloseEvent) => {
      if (this.socket !== socket) return;
      this.socket = null;
      for (const { reject } of this.refs.values()) reject(new Error("connection lost"));
      this.refs.clear();
      if (this.closed) {
        this.setState("closed");
        return;
      }
      if (event.code === 4401 || event.code === 4403) {
        this.setState("ended"); // the account was blocked or changed
        return;
      }
      this.setState("reconnecting");
      this.again(event.code === 4410 ? 0 : undefined);
    });
  }

  /** Handles one frame: keeps the numbering, answers requests, passes it on. */
  receive(data: string): void {
    if (this.options.onText?.(data)) return;
    let message: GatewayMessage;
    try {
      message = JSON.parse(data) as GatewayMessage;
    } catch {
      return;
    }
    if (message.type === "hello" || message.type === "resync") {
      if (this.lastSeq === null || message.type === "resync" || message.epoch !== this.epoch) {
        this.lastSeq = typeof message.seq === "number" ? message.seq : 0;
      }
      this.epoch = typeof message.epoch === "string" ? message.epoch : null;
    } else if (typeof message.seq === "number" && message.type !== "snapshot") {
      this.lastSeq = Math.max(this.lastSeq ?? 0, message.seq);
    }
    if (message.ref !== undefined && message.ref !== null) {
      const key = String(message.ref);
      const waiting = this.refs.get(key);
      if (waiting) {
        this.refs.delete(key);
        if (message.type === "error") waiting.reject(new Error(String(message.detail ?? "error")));
        else waiting.resolve(message);
      }
    }
    this.options.onMessage?.(message);
  }

  private again(delay?: number): void {
    const wait = delay ?? Math.min(10_000, 500 * 2 ** this.retry++);
    clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.connect(), wait);
  }

  get isOpen(): boolean {
    return this.socket !== null && this.socket.readyState === WebSocket.OPEN;
  }

  send(message: GatewayMessage): boolean {
    if (!this.socket || !this.isOpen) return false;
    this.socket.send(JSON.stringify(message));
    return true;
  }

  request(message: GatewayMessage, timeoutMs = 10_000): Promise<GatewayMessage> {
    const ref = `r${this.nextRef++}`;
    return new Promise((resolve, reject) => {
      if (!this.send({ ...message, ref })) {
        reject(new Error("not connected"));
        return;
      }
      this.refs.set(ref, { resolve, reject });
      setTimeout(() => {
        if (this.refs.delete(ref)) reject(new Error("no answer"));
      }, timeoutMs);
    });
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.timer);
    if (this.socket) this.socket.close(1000, "bye");
    this.socket = null;
    this.setState("closed");
  }
}
