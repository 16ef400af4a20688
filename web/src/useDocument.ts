// The open document and its sync with the server: the catalogue, the first document, the live WebSocket
// messages, edits (with undo/redo), runs and files. No React Flow here: the canvas reads `doc` and calls `perform`.
import { useCallback, useEffect, useMemo, useRef, useState } from "react";
import { api, ApiError, closeDoc, closeDocOnExit, Live, OPEN_AT_START, type WsStatus } from "./api";
import { Catalogue, History, Op } from "./graph";
import { MetricsStore } from "./metrics";
import type { DocSnapshot, LogLine, NodeStatus } from "./types";

export interface Toast {
  id: number;
  text: string;
  level: "error" | "info";
}

declare global {
  interface Window {
    __dn: any;
  }
}
window.__dn = window.__dn || {};

export function useDocument() {
  const [catalogue, setCatalogue] = useState<Catalogue>({});
  /** "loading" until the node list arrives (a fresh server takes seconds), then "ready" or the failure's sentence */
  const [catalogueState, setCatalogueState] = useState<string>("loading");
  const [importErrors, setImportErrors] = useState<Record<string, string>>({});
  const [doc, setDocState] = useState<DocSnapshot | null>(null);
  const docRef = useRef<DocSnapshot | null>(null);
  const [wsStatus, setWsStatus] = useState<WsStatus>("connecting");
  const [logs, setLogs] = useState<LogLine[]>([]);
  const [toasts, setToasts] = useState<Toast[]>([]);
  const history = useRef(new History());
  const [, setHistVersion] = useState(0);
  const bumpHistory = useCallback(() => setHistVersion((v) => v + 1), []);
  const store = useMemo(() => new MetricsStore(), []);

  const setDoc = useCallback((d: DocSnapshot | null) => {
    docRef.current = d;
    setDocState(d);
    window.__dn.doc = d;
  }, []);

  const toast = useCallback((text: string, level: "error" | "info" = "error") => {
    const id = Date.now() + Math.random();
    setToasts((t) => [...t.slice(-3), { id, text, level }]);
    if (docRef.current || level !== "error") window.setTimeout(() => setToasts((t) => t.filter((x) => x.id !== id)), level === "error" ? 8000 : 3500);
  }, []);

  // ---------------------------------------------------------------- catalogue and first document
  useEffect(() => {
    // the catalogue first: the repository and every node's ports wait for it
    api("GET", "/api/nodes").then((r) => {
      const c: Catalogue = {};
      for (const n of r.nodes) c[n.type] = n;
      setCatalogue(c);
      setImportErrors(r.import_errors || {});
      setCatalogueState("ready");
    }).catch((e) => { setCatalogueState(`the node list could not be loaded: ${e.message}`); toast(e.message); });
    const last = localStorage.getItem("deepnodes.lastPath");
    const start = OPEN_AT_START || last;
    (start ? api("POST", "/api/docs/open", { path: start }) : Promise.reject(null))
      .catch(() => api("POST", "/api/docs/new", { name: "untitled" }))
      .then((d) => { window.__dn.docLoaded = performance.now(); performance.mark("deepnodes:doc-loaded"); setDoc(d); })
      .catch((e) => toast(e.message));
  }, [setDoc, toast]);

  // ---------------------------------------------------------------- live updates
  const docId = doc?.id;
  useEffect(() => {
    if (!docId) return;
    const live = new Live(docId, (m) => onMessage(m), setWsStatus);
    return () => live.close();
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [docId]);

  const recovering = useRef(false);
  async function recover(done = "reconnected to the restarted server") {
    // the server restarted or another page closed this document: open it again from its file, or send it back
    const d = docRef.current;
    if (!d || recovering.current) return;
    recovering.current = true;
    try {
      const nd: DocSnapshot = d.path
        ? await api("POST", "/api/docs/open", { path: d.path }).catch(() => api("POST", "/api/docs/import", { workflow: d.workflow, path: d.path, dirty: d.dirty }))
        : await api("POST", "/api/docs/import", { workflow: d.workflow, example: d.example, dirty: d.dirty });
      history.current.clear();
      setDoc(nd);
      toast(done, "info");
    } catch (e: any) {
      toast(e.message);
    } finally {
      recovering.current = false;
    }
  }

  function patchStatus(node: string, patch: Partial<NodeStatus>) {
    const d = docRef.current;
    if (!d || !d.status[node] && !d.workflow.nodes.some((n) => n.id === node)) return;
    const nd = { ...d, status: { ...d.status, [node]: { ...(d.status[node] ?? { state: "idle", message: "", progress: null, scalars: {}, specs: [], seconds: null }), ...patch } } };
    setDoc(nd);
  }

  function onMessage(m: any) {
    const counts = (window.__dn.messages = window.__dn.messages || {});
    counts[m.type] = (counts[m.type] || 0) + 1;
    switch (m.type) {
      case "hello":
      case "graph": {
        const cur = docRef.current;
        if (m.type === "graph" && cur && cur.id === m.doc.id && m.doc.version < cur.version) return;
        setDoc(m.doc);
        break;
      }
      case "state":
        if (m.state === "executing") store.clear(m.node);
        patchStatus(m.node, m.status ? { ...m.status, progressMessage: "" } : { state: m.state, message: m.message });
        break;
      case "progress":
        patchStatus(m.node, { progress: m.fraction, progressMessage: m.message });
        break;
      case "metrics":
        store.add(m.node, m.points);
        break;
      case "log":
        setLogs((l) => [...l.slice(-299), { node: m.node, level: m.level, line: m.line, time: m.time }]);
        break;
      case "run":
        if (docRef.current) setDoc({ ...docRef.current, running: m.state === "started" });
        if (m.state === "finished" && m.failed?.length) toast(`${m.failed.length} node(s) failed; see the messages panel`);
        break;
      case "error":
        if (m.code === "no_doc") recover();
        break;
      case "closed": // another page closed the document this one shows: open it again
        if (m.doc === docRef.current?.id) recover("another page closed this workflow on the server; it is open again");
        break;
    }
  }

  // leaving the page (reload, close, another address) with unsaved changes asks first
  const dirty = !!doc?.dirty;
  useEffect(() => {
    if (!dirty) return;
    const warn = (e: BeforeUnloadEvent) => { e.preventDefault(); e.returnValue = ""; };
    window.addEventListener("beforeunload", warn);
    return () => window.removeEventListener("beforeunload", warn);
  }, [dirty]);

  // the page going away frees its document on the server (one with unsaved changes is kept, so a reopened tab
  // can still import it; one another page watches stays open for that page)
  useEffect(() => {
    const bye = () => { if (docRef.current) closeDocOnExit(docRef.current.id); };
    window.addEventListener("pagehide", bye);
    return () => window.removeEventListener("pagehide", bye);
  }, []);

  useEffect(() => {
    if (!doc) return;
    document.title = `${doc.name}${doc.dirty ? " *" : ""} — DeepNodes`;
    if (doc.path) localStorage.setItem("deepnodes.lastPath", doc.path);
    // the address names the workflow shown, so a reload opens it (not the one the tab was opened with)
    const url = new URL(location.href);
    if ((url.searchParams.get("open") ?? "") !== (doc.path ?? "")) {
      if (doc.path) url.searchParams.set("open", doc.path);
      else url.searchParams.delete("open");
      window.history.replaceState(window.history.state, "", url);
    }
  }, [doc?.name, doc?.dirty, doc?.path]);

  // ---------------------------------------------------------------- edits
  const perform = useCallback(async (ops: Op[], record = true): Promise<DocSnapshot | null> => {
    const d = docRef.current;
    if (!d || !ops.length) return null;
    try {
      const snap: DocSnapshot = await api("POST", `/api/docs/${d.id}/edit`, { ops });
      if (record) {
        history.current.record(d.workflow, ops);
        bumpHistory();
      }
      if (!docRef.current || snap.version >= docRef.current.version) setDoc(snap);
      return snap;
    } catch (e: any) {
      toast(e.message);
      return null;
    }
  }, [setDoc, toast, bumpHistory]);

  const undo = useCallback(async () => {
    const ops = history.current.undo();
    if (!ops) return;
    if (!(await perform(ops, false))) history.current.restore("undo");
    bumpHistory();
  }, [perform, bumpHistory]);
  const redo = useCallback(async () => {
    const ops = history.current.redo();
    if (!ops) return;
    if (!(await perform(ops, false))) history.current.restore("redo");
    bumpHistory();
  }, [perform, bumpHistory]);

  /** A node's new config from its dialog: null when applied, else the server's errors (or one message). */
  const applyConfig = useCallback(async (id: string, config: Record<string, unknown>) => {
    const d = docRef.current!;
    try {
      const ops: Op[] = [{ op: "config", id, config }];
      const snap: DocSnapshot = await api("POST", `/api/docs/${d.id}/edit`, { ops });
      history.current.record(d.workflow, ops);
      bumpHistory();
      setDoc(snap);
      return null;
    } catch (e: any) {
      if (e instanceof ApiError && e.errors.length) return e.errors;
      return e.message as string;
    }
  }, [setDoc, bumpHistory]);

  // ---------------------------------------------------------------- running
  const execute = useCallback(async (nodeIds?: string[]) => {
    const d = docRef.current;
    if (!d) return;
    try {
      await api("POST", `/api/docs/${d.id}/execute`, nodeIds ? { nodes: nodeIds } : {});
    } catch (e: any) {
      toast(e.message);
    }
  }, [toast]);
  const cancel = useCallback(() => { const d = docRef.current; if (d) api("POST", `/api/docs/${d.id}/cancel`).catch((e) => toast(e.message)); }, [toast]);
  const reset = useCallback((node?: string) => {
    const d = docRef.current;
    if (d) api("POST", `/api/docs/${d.id}/reset`, node ? { node } : {}).then((s) => setDoc(s)).catch((e) => toast(e.message));
  }, [setDoc, toast]);
  const stop = useCallback((node: string) => {
    const d = docRef.current;
    if (d) api("POST", `/api/docs/${d.id}/stop`, { node }).then(() => toast("stop requested: the learner finishes its batch and keeps the model", "info")).catch((e) => toast(e.message));
  }, [toast]);

  // ---------------------------------------------------------------- files
  /** Replaces the open document by another one from the server (new, opened); true when it worked. */
  /** The document it replaces is closed on the server (its changes discarded only when the user agreed). */
  const replaceDoc = useCallback(async (load: () => Promise<DocSnapshot>): Promise<boolean> => {
    const old = docRef.current;
    if (!mayDiscard(old)) return false;
    try {
      const d = await load();
      history.current.clear();
      setLogs([]);
      setDoc(d);
      if (old && old.id !== d.id) closeDoc(old.id, !!old.dirty).catch(() => { /* kept by the server (409): nothing lost */ });
      return true;
    } catch (e: any) { toast(e.message); return false; }
  }, [setDoc, toast]);
  const newDoc = useCallback(() => replaceDoc(() => api("POST", "/api/docs/new", { name: "untitled" })), [replaceDoc]);
  const openDoc = useCallback((what: { path?: string; example?: string }) => replaceDoc(() => api("POST", "/api/docs/open", what)), [replaceDoc]);
  /** Saves to the document's file; false when it has none yet (the caller asks for one). */
  const save = useCallback(async (): Promise<boolean> => {
    const d = docRef.current;
    if (!d) return true;
    if (!d.path) return false;
    try { setDoc(await api("POST", `/api/docs/${d.id}/save`)); toast(`saved ${d.path}`, "info"); } catch (e: any) { toast(e.message); }
    return true;
  }, [setDoc, toast]);
  /** Saves under a new path: null when saved, else the server's error (409: the file exists). */
  const saveAs = useCallback(async (path: string, overwrite: boolean): Promise<ApiError | null> => {
    const cur = docRef.current;
    if (!cur) return null;
    try {
      const d = await api("POST", `/api/docs/${cur.id}/save_as`, { path, overwrite });
      setDoc(d);
      toast(`saved ${d.path}`, "info");
      return null;
    } catch (e: any) {
      return e as ApiError;
    }
  }, [setDoc, toast]);

  const running = !!doc?.running || (doc ? Object.values(doc.status).some((s) => s.state === "executing" || s.state === "queued") : false);

  return {
    catalogue, catalogueState, importErrors, doc, docRef, setDoc, wsStatus, logs, toasts, toast, history: history.current, store,
    perform, undo, redo, applyConfig, execute, cancel, reset, stop, newDoc, openDoc, save, saveAs, running,
  };
}

export type DocumentState = ReturnType<typeof useDocument>;

/** Whether the open document may be replaced: it has no unsaved changes, or the user agrees to lose them. */
export function mayDiscard(d: DocSnapshot | null): boolean {
  if (!d?.dirty) return true;
  return window.confirm(`“${d.name}” has unsaved changes. Discard them?`);
}
