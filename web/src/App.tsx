import {
  applyEdgeChanges, Background, Controls, MiniMap, ReactFlow, ReactFlowProvider, useReactFlow,
  type Connection, type Edge, type EdgeChange, type Node,
} from "@xyflow/react";
import { Component, memo, type ReactNode, useCallback, useEffect, useMemo, useRef, useState } from "react";
import { api, ApiError, Live, OPEN_AT_START, type WsStatus } from "./api";
import { ColumnInfo, ConfigDialog } from "./ConfigDialog";
import { EditorContext } from "./context";
import {
  canConnect, Catalogue, Clip, copySelection, deleteOps, History, newNodeId, NodeDesc, Op, pasteOps,
} from "./graph";
import { MetricsStore } from "./metrics";
import { NodeData, NodeView, PORT_COLORS } from "./NodeView";
import { Palette } from "./Palette";
import type { DocSnapshot, LogLine, NodeStatus } from "./types";
import { Monitor } from "./views/Monitor";
import { NetworkView } from "./views/NetworkView";
import { ScorerView } from "./views/ScorerView";
import { TableView } from "./views/TableView";

const nodeTypes = { dn: NodeView };

type View =
  | { kind: "table" | "network" | "summary"; node: string; port: string }
  | { kind: "monitor" | "scorer" | "log"; node: string };

interface Toast {
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

const isLearner = (d: NodeDesc | undefined) => !!d && (/learner|trainer/i.test(d.type) || /learner/i.test(d.category)) && d.outputs.some((p) => p.type === "network" || p.name.includes("history"));
const isScorer = (d: NodeDesc | undefined) => !!d && /scor/i.test(d.type);

function Editor() {
  const rf = useReactFlow();
  const [catalogue, setCatalogue] = useState<Catalogue>({});
  const [importErrors, setImportErrors] = useState<Record<string, string>>({});
  const [doc, setDocState] = useState<DocSnapshot | null>(null);
  const docRef = useRef<DocSnapshot | null>(null);
  const [wsStatus, setWsStatus] = useState<WsStatus>("connecting");
  const [logs, setLogs] = useState<LogLine[]>([]);
  const [toasts, setToasts] = useState<Toast[]>([]);
  const [configFor, setConfigFor] = useState<string | null>(null);
  const [view, setView] = useState<View | null>(null);
  const [menu, setMenu] = useState<{ x: number; y: number; node: string } | null>(null);
  const [dialog, setDialog] = useState<"open" | "saveas" | null>(null);
  const [panelOpen, setPanelOpen] = useState(true);
  const togglePanel = useCallback(() => setPanelOpen((o) => !o), []);
  const showLog = useCallback((node: string) => setView({ kind: "log", node }), []);
  // React Flow keeps the node and edge objects in its own store (uncontrolled), so dragging re-renders only
  // what moves, not the whole editor; they are rebuilt from the document when it changes.
  const pendingSelect = useRef<Set<string> | null>(null);
  const [edges, setEdges] = useState<Edge[]>([]);
  const fittedFor = useRef<string | null>(null);
  const history = useRef(new History());
  const [, setHistVersion] = useState(0);
  const clip = useRef<Clip | null>(null);
  const store = useMemo(() => new MetricsStore(), []);
  const dataCache = useRef(new Map<string, NodeData>());
  const dragging = useRef(new Set<string>());

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
    api("GET", "/api/nodes").then((r) => {
      const c: Catalogue = {};
      for (const n of r.nodes) c[n.type] = n;
      setCatalogue(c);
      setImportErrors(r.import_errors || {});
    }).catch((e) => toast(e.message));
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
  async function recover() {
    // the server restarted and no longer knows this document: open it again from its file, or send it back
    const d = docRef.current;
    if (!d || recovering.current) return;
    recovering.current = true;
    try {
      const nd: DocSnapshot = d.path
        ? await api("POST", "/api/docs/open", { path: d.path }).catch(() => api("POST", "/api/docs/import", { workflow: d.workflow, path: d.path, dirty: d.dirty }))
        : await api("POST", "/api/docs/import", { workflow: d.workflow, example: d.example, dirty: d.dirty });
      history.current.clear();
      setDoc(nd);
      toast("reconnected to the restarted server", "info");
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
    }
  }

  // ---------------------------------------------------------------- graph -> React Flow
  useEffect(() => {
    if (!doc) return;
    const prev = new Map(rf.getNodes().map((n) => [n.id, n]));
    const select = pendingSelect.current;
    pendingSelect.current = null;
    const cache = dataCache.current;
    const next: Node[] = doc.workflow.nodes.map((n) => {
      const desc = catalogue[n.type];
      const st = doc.status[n.id];
      const old = cache.get(n.id);
      const data: NodeData = {
        label: n.label, typeName: desc?.name ?? n.type, category: desc?.category ?? "", inputs: desc?.inputs ?? [], outputs: desc?.outputs ?? [],
        state: st?.state ?? "idle", message: st?.message ?? "", progress: st?.progress ?? null, progressMessage: st?.progressMessage ?? "",
        partial: !!st?.partial, missing: !desc,
      };
      const same = old && (Object.keys(data) as (keyof NodeData)[]).every((k) => old[k] === data[k]);
      const d = same ? old! : data;
      cache.set(n.id, d);
      const p = prev.get(n.id);
      const position = p && dragging.current.has(n.id) ? p.position : { x: n.position[0], y: n.position[1] };
      const selected = select ? select.has(n.id) : p?.selected ?? false;
      if (p && p.data === d && p.position.x === position.x && p.position.y === position.y && !!p.selected === selected) return p;
      return { ...(p ?? {}), id: n.id, type: "dn", position, data: d, selected };
    });
    rf.setNodes(next);
    setEdges((prevEdges) => {
    const prevE = new Map(prevEdges.map((e) => [e.id, e]));
    return doc.workflow.connections.map((c) => {
      const id = `${c.target}:${c.target_port}`;
      const type = catalogue[doc.workflow.nodes.find((n) => n.id === c.source)?.type ?? ""]?.outputs.find((p) => p.name === c.source_port)?.type ?? "table";
      const old = prevE.get(id);
      if (old && old.source === c.source && old.sourceHandle === c.source_port) return old;
      return { id, source: c.source, sourceHandle: c.source_port, target: c.target, targetHandle: c.target_port, style: { stroke: PORT_COLORS[type] ?? "#555", strokeWidth: 1.6 } };
    });
    });
    // fit the view when another workflow opens; mark when its nodes are on screen (for the benchmark)
    if (fittedFor.current !== doc.id && (Object.keys(catalogue).length || !doc.workflow.nodes.length)) {
      fittedFor.current = doc.id;
      // (a fit of an empty canvas would wait for, and jump at, the first node)
      if (doc.workflow.nodes.length) {
        const id = doc.id;
        requestAnimationFrame(() => {
          rf.fitView({ padding: 0.15, maxZoom: 1.2 }).then(() => requestAnimationFrame(() => {
            performance.mark("deepnodes:rendered");
            window.__dn.rendered = { doc: id, nodes: document.querySelectorAll(".react-flow__node").length, t: performance.now() };
          }));
        });
      }
    }
  }, [doc, catalogue, rf]);

  useEffect(() => {
    if (!doc) return;
    document.title = `${doc.name}${doc.dirty ? " *" : ""} — DeepNodes`;
    if (doc.path) localStorage.setItem("deepnodes.lastPath", doc.path);
  }, [doc?.name, doc?.dirty, doc?.path]);


  // ---------------------------------------------------------------- edits
  const perform = useCallback(async (ops: Op[], record = true): Promise<DocSnapshot | null> => {
    const d = docRef.current;
    if (!d || !ops.length) return null;
    try {
      const snap: DocSnapshot = await api("POST", `/api/docs/${d.id}/edit`, { ops });
      if (record) {
        history.current.record(d.workflow, ops);
        setHistVersion((v) => v + 1);
      }
      if (!docRef.current || snap.version >= docRef.current.version) setDoc(snap);
      return snap;
    } catch (e: any) {
      toast(e.message);
      return null;
    }
  }, [setDoc, toast]);

  const undo = useCallback(async () => {
    const ops = history.current.undo();
    if (!ops) return;
    if (!(await perform(ops, false))) history.current.restore("undo");
    setHistVersion((v) => v + 1);
  }, [perform]);
  const redo = useCallback(async () => {
    const ops = history.current.redo();
    if (!ops) return;
    if (!(await perform(ops, false))) history.current.restore("redo");
    setHistVersion((v) => v + 1);
  }, [perform]);

  const editorApi = useMemo(() => ({ relabel: (id: string, label: string) => perform([{ op: "label", id, label }]) }), [perform]);


  const onEdgesChange = useCallback((changes: EdgeChange[]) => {
    setEdges((eds) => applyEdgeChanges(changes.filter((c) => c.type !== "remove"), eds));
  }, []);

  const onNodeDragStart = useCallback((_: any, __: Node, dragged: Node[]) => {
    dragged.forEach((n) => dragging.current.add(n.id));
  }, []);
  const onNodeDragStop = useCallback((_: any, __: Node, dragged: Node[]) => {
    const d = docRef.current;
    dragged.forEach((n) => dragging.current.delete(n.id));
    if (!d) return;
    const ops: Op[] = [];
    for (const n of dragged) {
      const cur = d.workflow.nodes.find((x) => x.id === n.id);
      const pos: [number, number] = [Math.round(n.position.x), Math.round(n.position.y)];
      if (cur && (cur.position[0] !== pos[0] || cur.position[1] !== pos[1])) ops.push({ op: "move", id: n.id, position: pos });
    }
    perform(ops);
  }, [perform]);

  const onConnect = useCallback((c: Connection) => {
    const d = docRef.current;
    if (!d || !c.sourceHandle || !c.targetHandle) return;
    const v = canConnect(d.workflow, catalogue, c.source, c.sourceHandle, c.target, c.targetHandle);
    if (!v.ok) {
      toast(`Cannot connect: ${v.reason}`);
      return;
    }
    perform([{ op: "connect", source: c.source, source_port: c.sourceHandle, target: c.target, target_port: c.targetHandle }]);
  }, [catalogue, perform, toast]);

  const addNode = useCallback((type: string, pos: { x: number; y: number }) => {
    const d = docRef.current;
    const desc = catalogue[type];
    if (!d || !desc) return;
    const id = newNodeId(d.workflow, type);
    perform([{ op: "add", id, type, label: desc.name, position: [Math.round(pos.x), Math.round(pos.y)], config: {} }]);
  }, [catalogue, perform]);

  const onDrop = useCallback((e: React.DragEvent) => {
    e.preventDefault();
    const type = e.dataTransfer.getData("application/x-deepnodes-node");
    if (!type) return;
    addNode(type, rf.screenToFlowPosition({ x: e.clientX - 40, y: e.clientY - 30 }));
  }, [addNode, rf]);

  const addAtCenter = useCallback((type: string) => {
    const el = document.querySelector(".react-flow");
    const r = el?.getBoundingClientRect();
    const jitter = ((docRef.current?.workflow.nodes.length ?? 0) % 5) * 30;
    addNode(type, rf.screenToFlowPosition({ x: (r ? r.left + r.width / 2 : 400) + jitter, y: (r ? r.top + r.height / 2 : 300) + jitter }));
  }, [addNode, rf]);

  const selectedIds = () => rf.getNodes().filter((n) => n.selected).map((n) => n.id);

  const deleteSelected = useCallback(() => {
    const d = docRef.current;
    if (!d) return;
    const ns = rf.getNodes().filter((n) => n.selected).map((n) => n.id);
    const es = edges.filter((e) => e.selected).map((e) => ({ target: e.target, target_port: e.targetHandle! }));
    perform(deleteOps(d.workflow, ns, es));
  }, [rf, edges, perform]);

  const copy = useCallback(() => {
    const d = docRef.current;
    const ids = rf.getNodes().filter((n) => n.selected).map((n) => n.id);
    if (!d || !ids.length) return;
    clip.current = copySelection(d.workflow, ids);
    try { localStorage.setItem("deepnodes.clipboard", JSON.stringify(clip.current)); } catch { /* full */ }
    toast(`copied ${ids.length} node${ids.length > 1 ? "s" : ""}`, "info");
  }, [rf, toast]);

  const paste = useCallback(async () => {
    const d = docRef.current;
    let c = clip.current;
    if (!c) {
      try { c = JSON.parse(localStorage.getItem("deepnodes.clipboard") || "null"); } catch { c = null; }
    }
    if (!d || !c || !c.nodes.length) return;
    const { ops, ids } = pasteOps(d.workflow, c);
    pendingSelect.current = new Set(ids);
    const snap = await perform(ops);
    if (!snap) pendingSelect.current = null;
    if (snap) {
      clip.current = { nodes: c.nodes.map((n) => ({ ...n, position: [n.position[0] + 40, n.position[1] + 40] as [number, number] })), connections: c.connections };
    }
  }, [perform]);

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
  const newDoc = useCallback(async () => {
    try {
      const d = await api("POST", "/api/docs/new", { name: "untitled" });
      history.current.clear();
      setLogs([]);
      setDoc(d);
    } catch (e: any) { toast(e.message); }
  }, [setDoc, toast]);
  const openDoc = useCallback(async (what: { path?: string; example?: string }) => {
    try {
      const d = await api("POST", "/api/docs/open", what);
      history.current.clear();
      setLogs([]);
      setView(null);
      setDoc(d);
      setDialog(null);
    } catch (e: any) { toast(e.message); }
  }, [setDoc, toast]);
  const save = useCallback(async () => {
    const d = docRef.current;
    if (!d) return;
    if (!d.path) { setDialog("saveas"); return; }
    try { setDoc(await api("POST", `/api/docs/${d.id}/save`)); toast(`saved ${d.path}`, "info"); } catch (e: any) { toast(e.message); }
  }, [setDoc, toast]);

  // ---------------------------------------------------------------- keyboard
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      const t = e.target as HTMLElement;
      if (t && (t.tagName === "INPUT" || t.tagName === "TEXTAREA" || t.tagName === "SELECT" || t.isContentEditable)) return;
      if (configFor || dialog) return;
      const mod = e.ctrlKey || e.metaKey;
      const k = e.key.toLowerCase();
      if (mod && k === "z" && !e.shiftKey) { e.preventDefault(); undo(); }
      else if (mod && (k === "y" || (k === "z" && e.shiftKey))) { e.preventDefault(); redo(); }
      else if (mod && k === "c") { copy(); }
      else if (mod && k === "v") { e.preventDefault(); paste(); }
      else if (mod && k === "s") { e.preventDefault(); save(); }
      else if (e.key === "Delete" || e.key === "Backspace") { e.preventDefault(); deleteSelected(); }
      else if (e.key === "Escape") { setMenu(null); setView(null); }
    };
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  }, [undo, redo, copy, paste, save, deleteSelected, configFor, dialog]);

  // ---------------------------------------------------------------- derived
  const inputColumns = (nodeId: string): ColumnInfo[] | null => {
    const d = docRef.current;
    if (!d) return null;
    const n = d.workflow.nodes.find((x) => x.id === nodeId);
    const desc = n && catalogue[n.type];
    if (!desc) return null;
    for (const p of desc.inputs) {
      if (p.type !== "table") continue;
      const c = d.workflow.connections.find((x) => x.target === nodeId && x.target_port === p.name);
      if (!c) continue;
      const src = d.workflow.nodes.find((x) => x.id === c.source);
      const sdesc = src && catalogue[src.type];
      const idx = sdesc ? sdesc.outputs.findIndex((o) => o.name === c.source_port) : -1;
      const spec = idx >= 0 ? d.status[c.source]?.specs?.[idx] : null;
      if (spec && Array.isArray(spec.columns)) return spec.columns;
    }
    return null;
  };

  const running = !!doc?.running || (doc ? Object.values(doc.status).some((s) => s.state === "executing" || s.state === "queued") : false);
  const cfgNode = configFor && doc ? doc.workflow.nodes.find((n) => n.id === configFor) : null;
  const menuNode = menu && doc ? doc.workflow.nodes.find((n) => n.id === menu.node) : null;
  const menuDesc = menuNode ? catalogue[menuNode.type] : undefined;
  const viewNode = view && doc ? doc.workflow.nodes.find((n) => n.id === view.node) : null;

  if (!doc) {
    return (
      <div className="dn-loading">
        {toasts.length ? toasts.map((t) => <p key={t.id} className="dn-error-text" role="alert">{t.text}</p>) : "Loading DeepNodes…"}
      </div>
    );
  }

  return (
    <EditorContext.Provider value={editorApi}>
      <div className="dn-app">
        <header className="dn-toolbar">
          <span className="dn-logo">DeepNodes</span>
          <button onClick={newDoc} title="new workflow">New</button>
          <button onClick={() => setDialog("open")} title="open a workflow or an example" data-testid="open">Open…</button>
          <button onClick={save} title="save (Ctrl+S)">Save</button>
          <button onClick={() => setDialog("saveas")}>Save as…</button>
          <span className="sep" />
          <button onClick={undo} disabled={!history.current.canUndo} title="undo (Ctrl+Z)">↶ Undo</button>
          <button onClick={redo} disabled={!history.current.canRedo} title="redo (Ctrl+Shift+Z)">↷ Redo</button>
          <button onClick={copy} title="copy the selected nodes (Ctrl+C)">Copy</button>
          <button onClick={paste} title="paste (Ctrl+V)">Paste</button>
          <button onClick={deleteSelected} title="delete the selection (Del)">Delete</button>
          <span className="sep" />
          <button className="primary" onClick={() => { const s = selectedIds(); execute(s.length ? s : undefined); }} title="execute the selected nodes (or all)" data-testid="execute-selected">▶ Execute</button>
          <button className="primary" onClick={() => execute()} title="execute every node" data-testid="execute-all">▶▶ Execute all</button>
          <button onClick={cancel} disabled={!running} className="danger" title="cancel the run" data-testid="cancel">■ Cancel</button>
          <button onClick={() => { const s = selectedIds(); if (s.length === 1) reset(s[0]); else reset(); }} disabled={running} title="reset the selected node (or all)">⟲ Reset</button>
          <span className="sep" />
          <button onClick={() => rf.fitView({ padding: 0.15, maxZoom: 1.2 })} title="fit the workflow into view">Fit</button>
          <span className="dn-docname" title={doc.path ?? (doc.example ? `example ${doc.example} (not saved)` : "not saved yet")}>
            <input value={doc.name} aria-label="workflow name" onChange={(e) => setDoc({ ...doc, name: e.target.value })}
              onBlur={(e) => perform([{ op: "rename", name: e.target.value || "untitled" }])} />
            {doc.dirty ? " ●" : ""} <span className="muted">{doc.path ?? (doc.example ? `example: ${doc.example}` : "unsaved")}</span>
          </span>
          <span className={`dn-ws ws-${wsStatus}`} data-testid="ws-status">{wsStatus === "open" ? "● live" : wsStatus === "connecting" ? "○ connecting…" : "○ reconnecting…"}</span>
        </header>
        <div className="dn-main">
          <Palette catalogue={catalogue} importErrors={importErrors} onAdd={addAtCenter} />
          <div className="dn-canvas" onDragOver={(e) => { e.preventDefault(); e.dataTransfer.dropEffect = "copy"; }} onDrop={onDrop}>
            <ReactFlow
              defaultNodes={[]}
              edges={edges}
              onEdgesChange={onEdgesChange}
              nodeTypes={nodeTypes}
              onConnect={onConnect}
              onNodeDragStart={onNodeDragStart}
              onNodeDragStop={onNodeDragStop}
              onNodeDoubleClick={(_, n) => setConfigFor(n.id)}
              onNodeContextMenu={(e, n) => { e.preventDefault(); setMenu({ x: e.clientX, y: e.clientY, node: n.id }); }}
              onPaneClick={() => setMenu(null)}
              deleteKeyCode={null}
              multiSelectionKeyCode={["Shift", "Meta", "Control"]}
              selectionKeyCode="Shift"
              minZoom={0.1}
              maxZoom={2.5}
              onlyRenderVisibleElements={false}
              proOptions={{ hideAttribution: true }}
            >
              <Background gap={20} size={1} />
              <Controls showInteractive={false} />
              {/* the overview map redraws on every drag step: shown for workflows up to 100 nodes */}
              {doc.workflow.nodes.length <= 100 && <MiniMap pannable zoomable nodeStrokeWidth={3} nodeColor={(n) => stateColor((n.data as NodeData).state)} />}
            </ReactFlow>
          </div>
        </div>
        <MessagesPanel doc={doc} logs={logs} open={panelOpen} onToggle={togglePanel} onShow={showLog} />

        {menu && menuNode && (
          <div className="dn-menu" style={{ left: menu.x, top: menu.y }} onMouseLeave={() => setMenu(null)} role="menu">
            <button onClick={() => { setConfigFor(menuNode.id); setMenu(null); }}>Configure…</button>
            <button onClick={() => { execute([menuNode.id]); setMenu(null); }}>Execute</button>
            <button onClick={() => { reset(menuNode.id); setMenu(null); }} disabled={running}>Reset</button>
            {running && <button onClick={() => { cancel(); setMenu(null); }}>Cancel run</button>}
            <hr />
            {menuDesc?.outputs.map((p) => (
              <button key={p.name} onClick={() => { setView({ kind: p.type === "table" ? "table" : p.type === "network" ? "network" : "summary", node: menuNode.id, port: p.name }); setMenu(null); }}>
                View: {p.name} <span className="muted">({p.type})</span>
              </button>
            ))}
            {(isLearner(menuDesc) || store.has(menuNode.id)) && <button onClick={() => { setView({ kind: "monitor", node: menuNode.id }); setMenu(null); }}>Learning monitor</button>}
            {isLearner(menuDesc) && doc.status[menuNode.id]?.state === "executing" && <button onClick={() => { stop(menuNode.id); setMenu(null); }}>Stop learning (keep model)</button>}
            {isScorer(menuDesc) && <button onClick={() => { setView({ kind: "scorer", node: menuNode.id }); setMenu(null); }}>Scorer view</button>}
            <button onClick={() => { setView({ kind: "log", node: menuNode.id }); setMenu(null); }}>Messages and log</button>
            <hr />
            <button onClick={() => { setMenu(null); const el = document.querySelector(`[data-node-id="${menuNode.id}"] .dn-label`) as HTMLElement; el?.dispatchEvent(new MouseEvent("dblclick", { bubbles: true })); }}>Rename</button>
            <button onClick={() => { perform(deleteOps(doc.workflow, [menuNode.id], [])); setMenu(null); }}>Delete</button>
          </div>
        )}

        {cfgNode && catalogue[cfgNode.type] && (
          <ConfigDialog
            key={cfgNode.id}
            desc={catalogue[cfgNode.type]}
            nodeId={cfgNode.id}
            label={cfgNode.label}
            config={cfgNode.config}
            columns={inputColumns(cfgNode.id)}
            onClose={() => setConfigFor(null)}
            onApply={async (config) => {
              const d = docRef.current!;
              try {
                const ops: Op[] = [{ op: "config", id: cfgNode.id, config }];
                const snap: DocSnapshot = await api("POST", `/api/docs/${d.id}/edit`, { ops });
                history.current.record(d.workflow, ops);
                setHistVersion((v) => v + 1);
                setDoc(snap);
                return null;
              } catch (e: any) {
                if (e instanceof ApiError && e.errors.length) return e.errors;
                return e.message as string;
              }
            }}
          />
        )}

        {view && viewNode && (
          <div className="dn-viewwin" role="dialog" aria-label="port view">
            <header>
              <b>{viewTitle(view)}</b> — {viewNode.label} <span className="muted">({viewNode.id})</span>
              <span className="grow" />
              <button className="close" onClick={() => setView(null)} aria-label="close view">×</button>
            </header>
            <div className="dn-viewbody"><ViewBoundary key={JSON.stringify(view)}>
              {view.kind === "table" && <TableView key={`${view.node}/${view.port}/${doc.status[view.node]?.state}`} docId={doc.id} node={view.node} port={view.port} />}
              {view.kind === "network" && <NetworkView key={`${view.node}/${doc.status[view.node]?.state}`} docId={doc.id} node={view.node} port={view.port} />}
              {view.kind === "summary" && <SummaryView docId={doc.id} node={view.node} port={view.port} />}
              {view.kind === "monitor" && <Monitor docId={doc.id} node={view.node} store={store} status={doc.status[view.node]} onStop={() => stop(view.node)} />}
              {view.kind === "scorer" && <ScorerView key={`${view.node}/${doc.status[view.node]?.state}`} docId={doc.id} node={view.node} />}
              {view.kind === "log" && <LogView docId={doc.id} node={view.node} status={doc.status[view.node]} />}
            </ViewBoundary></div>
          </div>
        )}

        {dialog === "open" && <OpenDialog onOpen={openDoc} onClose={() => setDialog(null)} />}
        {dialog === "saveas" && (
          <SaveAsDialog initial={doc.path ?? `${(doc.name || "untitled").replace(/[^\w.-]+/g, "_")}.json`} onClose={() => setDialog(null)}
            onSave={async (path, overwrite) => {
              try {
                const d = await api("POST", `/api/docs/${doc.id}/save_as`, { path, overwrite });
                setDoc(d);
                setDialog(null);
                toast(`saved ${d.path}`, "info");
                return null;
              } catch (e: any) {
                return e as ApiError;
              }
            }} />
        )}

        <div className="dn-toasts">
          {toasts.map((t) => <div key={t.id} className={`dn-toast ${t.level}`} role={t.level === "error" ? "alert" : "status"}>{t.text}</div>)}
        </div>
      </div>
    </EditorContext.Provider>
  );
}

/** Failed nodes, unconfigured nodes with their reason, and log lines. */
const MessagesPanel = memo(function MessagesPanel({ doc, logs, open, onToggle, onShow }: { doc: DocSnapshot; logs: LogLine[]; open: boolean; onToggle: () => void; onShow: (node: string) => void }) {
  const failed = doc.workflow.nodes.filter((n) => doc.status[n.id]?.state === "failed");
  return (
    <section className={`dn-panel${open ? " open" : ""}`}>
      <header onClick={onToggle}>
        <b>Messages</b> {failed.length > 0 && <span className="dn-badge-fail">{failed.length} failed</span>}
        <span className="muted">{logs.length} log lines</span>
        <span className="grow" />{open ? "▾" : "▴"}
      </header>
      {open && (
        <div className="dn-panel-body" data-testid="messages">
          {failed.map((n) => (
            <div key={n.id} className="dn-msg error" onClick={() => onShow(n.id)}>
              <b>{n.label}</b> ({n.id}) failed: {doc.status[n.id].message}
            </div>
          ))}
          {doc.workflow.nodes.filter((n) => doc.status[n.id]?.state === "idle" && doc.status[n.id]?.message).slice(0, 50).map((n) => (
            <div key={n.id} className="dn-msg warn"><b>{n.label}</b> ({n.id}) is not configured: {doc.status[n.id].message}</div>
          ))}
          {logs.slice(-100).map((l, i) => (
            <div key={i} className={`dn-msg log level-${l.level}`}>{l.node ? <b>{l.node}: </b> : null}<span className="mono">{l.line.length > 400 ? l.line.slice(-400) : l.line}</span></div>
          ))}
        </div>
      )}
    </section>
  );
});

/** A view that breaks shows its error instead of taking the editor down. */
class ViewBoundary extends Component<{ children: ReactNode }, { error: string | null }> {
  state = { error: null as string | null };
  static getDerivedStateFromError(e: unknown) {
    return { error: String(e) };
  }
  render() {
    return this.state.error ? <div className="dn-error">This view failed: {this.state.error}</div> : this.props.children;
  }
}

function viewTitle(v: View): string {
  switch (v.kind) {
    case "table": return `Table: ${v.port}`;
    case "network": return `Network: ${v.port}`;
    case "summary": return `Output: ${v.port}`;
    case "monitor": return "Learning monitor";
    case "scorer": return "Scorer";
    case "log": return "Messages and log";
  }
}

function stateColor(s: string): string {
  return ({ idle: "#e53e3e", configured: "#ecc94b", queued: "#ecc94b", executing: "#4299e1", executed: "#38a169", failed: "#c53030" } as Record<string, string>)[s] ?? "#aaa";
}

function SummaryView({ docId, node, port }: { docId: string; node: string; port: string }) {
  const [s, setS] = useState<any>(null);
  const [err, setErr] = useState("");
  useEffect(() => { api("GET", `/api/docs/${docId}/nodes/${encodeURIComponent(node)}/ports/${encodeURIComponent(port)}/summary`).then(setS).catch((e) => setErr(e.message)); }, [docId, node, port]);
  if (err) return <div className="dn-error">{err}</div>;
  return <pre className="dn-pre">{s ? JSON.stringify(s.summary, null, 2) : "loading…"}</pre>;
}

function LogView({ docId, node, status }: { docId: string; node: string; status: NodeStatus | undefined }) {
  const [l, setL] = useState<any>(null);
  useEffect(() => { api("GET", `/api/docs/${docId}/nodes/${encodeURIComponent(node)}/log`).then(setL).catch(() => {}); }, [docId, node, status?.state]);
  return (
    <div className="dn-logview">
      <p><b>State:</b> {status?.state} {status?.message && <>— <span className={status.state === "failed" ? "dn-error-text" : ""}>{status.message}</span></>}</p>
      {status?.seconds != null && <p><b>Time:</b> {status.seconds.toFixed(2)} s</p>}
      {status && Object.keys(status.scalars || {}).length > 0 && <p><b>Results:</b> {Object.entries(status.scalars).map(([k, v]) => `${k} = ${typeof v === "number" ? +v.toPrecision(5) : v}`).join(", ")}</p>}
      {l?.lines?.length > 0 && <pre className="dn-pre">{l.lines.map((x: any) => `[${x.level}] ${x.line}`).join("\n")}</pre>}
      {l?.traceback && <details><summary>Traceback</summary><pre className="dn-pre">{l.traceback}</pre></details>}
    </div>
  );
}

function OpenDialog({ onOpen, onClose }: { onOpen: (w: { path?: string; example?: string }) => void; onClose: () => void }) {
  const [wfs, setWfs] = useState<any[] | null>(null);
  const [exs, setExs] = useState<any[] | null>(null);
  const [ws, setWs] = useState("");
  const [err, setErr] = useState("");
  useEffect(() => {
    api("GET", "/api/workflows").then((r) => { setWfs(r.workflows); setWs(r.workspace); }).catch((e) => setErr(e.message));
    api("GET", "/api/examples").then((r) => setExs(r.examples)).catch((e) => setErr(e.message));
  }, []);
  return (
    <div className="dn-modal-backdrop" onMouseDown={(e) => e.target === e.currentTarget && onClose()}>
      <div className="dn-modal dn-open" role="dialog" aria-label="Open a workflow">
        <header><h2>Open a workflow</h2><button className="close" onClick={onClose} aria-label="close">×</button></header>
        {err && <div className="dn-error">{err}</div>}
        <h3>Examples</h3>
        <ul className="dn-filelist">
          {exs?.map((x) => (
            <li key={x.file}><button data-example={x.file} onClick={() => onOpen({ example: x.file })}><b>{x.name}</b> <span className="muted">{x.file} · {x.nodes} nodes</span>{x.description && <div className="muted">{x.description}</div>}</button></li>
          ))}
          {exs && !exs.length && <li className="muted">No examples are installed.</li>}
        </ul>
        <h3>In the workspace <span className="muted">{ws}</span></h3>
        <ul className="dn-filelist">
          {wfs?.map((x) => (
            <li key={x.path}><button data-path={x.path} onClick={() => onOpen({ path: x.path })}><b>{x.path}</b> <span className="muted">{x.name} · {x.nodes} nodes</span></button></li>
          ))}
          {wfs && !wfs.length && <li className="muted">No workflows here yet.</li>}
        </ul>
      </div>
    </div>
  );
}

function SaveAsDialog({ initial, onSave, onClose }: { initial: string; onSave: (path: string, overwrite: boolean) => Promise<ApiError | null>; onClose: () => void }) {
  const [path, setPath] = useState(initial);
  const [err, setErr] = useState<ApiError | null>(null);
  const submit = async (overwrite: boolean) => setErr(await onSave(path, overwrite));
  return (
    <div className="dn-modal-backdrop" onMouseDown={(e) => e.target === e.currentTarget && onClose()}>
      <div className="dn-modal dn-saveas" role="dialog" aria-label="Save as">
        <header><h2>Save as</h2><button className="close" onClick={onClose} aria-label="close">×</button></header>
        <form onSubmit={(e) => { e.preventDefault(); submit(false); }}>
          <label>File in the workspace <input autoFocus value={path} onChange={(e) => { setPath(e.target.value); setErr(null); }} data-testid="saveas-path" /></label>
          {err && <div className="dn-error" role="alert">{err.message}</div>}
          <footer>
            <button type="button" onClick={onClose}>Cancel</button>
            {err?.status === 409 && <button type="button" className="danger" onClick={() => submit(true)}>Overwrite</button>}
            <button type="submit" className="primary">Save</button>
          </footer>
        </form>
      </div>
    </div>
  );
}

export function App() {
  return (
    <ReactFlowProvider>
      <Editor />
    </ReactFlowProvider>
  );
}
