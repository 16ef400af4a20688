// Talking to the server: REST calls with the token, and a WebSocket that reconnects by itself.

const params = new URLSearchParams(location.search);
const fromUrl = params.get("token");
if (fromUrl) sessionStorage.setItem("deepnodes.token", fromUrl);
export const TOKEN = fromUrl || sessionStorage.getItem("deepnodes.token") || "";
export const OPEN_AT_START = params.get("open");
/** This page's id: its WebSockets carry it, and closing a document names it, so the server keeps a document
 * that another page (a second tab on the same file) still watches. */
export const CLIENT = Math.random().toString(36).slice(2, 12) + Date.now().toString(36);

export class ApiError extends Error {
  constructor(message: string, public status: number, public errors: { field: string; message: string }[] = [], public op: number | null = null) {
    super(message);
  }
}

export async function api<T = any>(method: string, path: string, body?: unknown): Promise<T> {
  let r: Response;
  try {
    r = await fetch(path, {
      method,
      headers: { "X-DeepNodes-Token": TOKEN, ...(body !== undefined ? { "Content-Type": "application/json" } : {}) },
      body: body !== undefined ? JSON.stringify(body) : undefined,
    });
  } catch {
    throw new ApiError("the server cannot be reached; is `deepnodes serve` still running?", 0);
  }
  const text = await r.text();
  let data: any = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = { error: text };
  }
  if (!r.ok) throw new ApiError(data?.error || `${r.status} ${r.statusText}`, r.status, data?.errors || [], data?.op ?? null);
  return data as T;
}

/** Tell the server a tab closed its document, so it frees it. A 409 means unsaved changes: ask, then pass
 * discard = true. An unknown document (already closed, server restarted) counts as closed. */
export async function closeDoc(docId: string, discard = false): Promise<void> {
  try {
    await api("POST", `/api/docs/${encodeURIComponent(docId)}/close`, { discard, client: CLIENT });
  } catch (e) {
    if (!(e instanceof ApiError) || e.status !== 404) throw e;
  }
}

/** When the page goes away (tab or window closed): ask the server to free a saved document. sendBeacon cannot
 * set headers, so the token rides in the query and the body goes as text (the server reads it as JSON).
 * A document with unsaved changes is kept by the server (409), so a reopened tab can still import it. */
export function closeDocOnExit(docId: string): void {
  const url = `/api/docs/${encodeURIComponent(docId)}/close?token=${encodeURIComponent(TOKEN)}`;
  navigator.sendBeacon?.(url, JSON.stringify({ discard: false, client: CLIENT }));
}

export type WsStatus = "connecting" | "open" | "closed";

/** One WebSocket per open document; reconnects with a growing delay (a server restart is survived). */
export class Live {
  private ws: WebSocket | null = null;
  private timer: number | undefined;
  private delay = 500;
  private closed = false;
  constructor(
    public docId: string,
    private onMessage: (m: any) => void,
    private onStatus: (s: WsStatus) => void,
  ) {
    this.connect();
  }
  private connect() {
    if (this.closed) return;
    this.onStatus("connecting");
    const proto = location.protocol === "https:" ? "wss" : "ws";
    const ws = new WebSocket(`${proto}://${location.host}/api/ws?doc=${encodeURIComponent(this.docId)}&token=${encodeURIComponent(TOKEN)}&client=${CLIENT}`);
    this.ws = ws;
    ws.onopen = () => {
      this.delay = 500;
      this.onStatus("open");
    };
    ws.onmessage = (e) => {
      if (typeof e.data !== "string" || e.data === "pong") return;
      try {
        this.onMessage(JSON.parse(e.data));
      } catch (err) {
        console.error(err);
      }
    };
    ws.onclose = () => {
      if (this.ws !== ws) return;
      this.onStatus("closed");
      if (!this.closed) {
        this.timer = window.setTimeout(() => this.connect(), this.delay);
        this.delay = Math.min(this.delay * 2, 4000);
      }
    };
  }
  close() {
    this.closed = true;
    window.clearTimeout(this.timer);
    this.ws?.close();
  }
}
