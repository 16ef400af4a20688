// The editor: puts the document (useDocument), the canvas, the toolbar and the panels together and keeps
// which dialog, menu and view are open.
import { ReactFlowProvider } from "@xyflow/react";
import { useCallback, useEffect, useMemo, useRef, useState } from "react";
import { api } from "./api";
import { Canvas } from "./Canvas";
import { DeployPanel } from "./DeployPanel";
import { ColumnInfo, ConfigDialog } from "./ConfigDialog";
import { EditorContext } from "./context";
import { type Catalogue, type Op, portsOf } from "./graph";
import { ComponentBreadcrumb } from "./ComponentBreadcrumb";
import { bodyDoc, canOpen, insideOps } from "./componentView";
import { makeComponentOp } from "./makeComponent";
import { Palette } from "./Palette";
import { rememberRecent, StartPage } from "./StartPage";
import { OpenDialog, SaveAsDialog } from "./panels/FileDialogs";
import { MessagesPanel } from "./panels/MessagesPanel";
import { NodeMenu } from "./panels/NodeMenu";
import { type View, ViewWindow } from "./panels/ViewWindow";
import { Toolbar, type ToolbarActions } from "./Toolbar";
import type { DocSnapshot } from "./types";
import { useCanvasOps } from "./useCanvasOps";
import { useDocument } from "./useDocument";
import { type KeyActions, useKeys } from "./useKeys";

/** The spec of what feeds a node's first connected input of a port type ("table", "network"), when known. */
function inputSpec(d: DocSnapshot, catalogue: Catalogue, nodeId: string, type: string, ok: (spec: any) => boolean): any {
  const n = d.workflow.nodes.find((x) => x.id === nodeId);
  const desc = catalogue[n?.type ?? ""] && portsOf(catalogue, n);
  if (!desc) return null;
  for (const p of desc.inputs) {
    if (p.type !== type) continue;
    const c = d.workflow.connections.find((x) => x.target === nodeId && x.target_port === p.name);
    if (!c) continue;
    const src = d.workflow.nodes.find((x) => x.id === c.source);
    const sdesc = src && catalogue[src.type] && portsOf(catalogue, src);
    const idx = sdesc ? sdesc.outputs.findIndex((o) => o.name === c.source_port) : -1;
    const spec = idx >= 0 ? d.status[c.source]?.specs?.[idx] : null;
    if (spec && ok(spec)) return spec;
  }
  return null;
}

const inputColumns = (d: DocSnapshot, c: Catalogue, id: string): ColumnInfo[] | null =>
  inputSpec(d, c, id, "table", (s) => Array.isArray(s.columns))?.columns ?? null;
const inputNetwork = (d: DocSnapshot, c: Catalogue, id: string) =>
  inputSpec(d, c, id, "network", (s) => Array.isArray(s.inputs) && Array.isArray(s.outputs));

function Editor() {
  const D = useDocument();
  const { doc, catalogue, toast, perform } = D;
  // an opened component: the canvas shows its body and edits go inside it (componentView.ts)
  const [inside, setInside] = useState<string[]>([]);
  const insideRef = useRef<string[]>([]);
  insideRef.current = inside;
  const viewDoc = doc && inside.length ? bodyDoc(doc, inside) : doc;
  const viewRef = useRef<typeof doc>(null);
  viewRef.current = viewDoc;
  const performView = useCallback((o: Op[]) => (insideRef.current.length
    ? perform(insideOps(o, insideRef.current) as Op[], false) : perform(o)), [perform]);
  const ops = useCanvasOps(viewRef, catalogue, performView, toast);
  useEffect(() => { if (doc && inside.length && !bodyDoc(doc, inside)) setInside([]); }, [doc, inside]);
  useEffect(() => { const t = setTimeout(ops.fit, 60); return () => clearTimeout(t); }, [inside.join("/")]); // eslint-disable-line react-hooks/exhaustive-deps
  const [configFor, setConfigFor] = useState<string | null>(null);
  const [view, setView] = useState<View | null>(null);
  const [menu, setMenu] = useState<{ x: number; y: number; node: string } | null>(null);
  const [dialog, setDialog] = useState<"open" | "saveas" | "deploy" | null>(null);
  const [panelOpen, setPanelOpen] = useState(true);
  const togglePanel = useCallback(() => setPanelOpen((o) => !o), []);
  const showLog = useCallback((node: string) => setView({ kind: "log", node }), []);
  const editorApi = useMemo(() => ({ relabel: (id: string, label: string) => perform([{ op: "label", id, label }]) }), [perform]);

  // the start page: over the empty canvas of a fresh editor, and from the logo
  // ("auto": shown while a fresh tab's first document is empty; true: asked for; false: closed)
  const [start, setStart] = useState<"auto" | boolean | null>(null);
  const empty = !doc || doc.workflow.nodes.length === 0;
  useEffect(() => {
    if (doc && start === null) setStart(!doc.path && !doc.example && empty ? "auto" : false);
    else if (start === "auto" && !empty) setStart(false);
    if (doc?.path) rememberRecent(doc.path);
  }, [doc?.id, doc?.path, empty]); // eslint-disable-line react-hooks/exhaustive-deps
  const closeStart = useCallback(() => setStart(false), []);

  const save = useCallback(async () => { if (!(await D.save())) setDialog("saveas"); }, [D.save]);
  const openDoc = useCallback(async (what: { path?: string; example?: string }) => {
    if (await D.openDoc(what)) { setView(null); setDialog(null); setStart(false); }
  }, [D.openDoc]);

  const keys: KeyActions = useMemo(() => ({
    undo: D.undo, redo: D.redo, copy: ops.copy, paste: ops.paste, save, deleteSelected: ops.deleteSelected,
    escape: () => { setMenu(null); setView(null); setDialog(null); setConfigFor(null); setStart((s) => (s ? false : s)); },
    selectAll: ops.selectAll,
    configure: () => { const s = ops.selectedIds(); if (s.length === 1) setConfigFor(s[0]); },
    executeSelected: () => { const s = ops.selectedIds(); D.execute(s.length ? s : undefined); },
    executeAll: () => D.execute(),
    cancel: D.cancel,
  }), [D.undo, D.redo, D.execute, D.cancel, ops.copy, ops.paste, save, ops.deleteSelected, ops.selectAll, ops.selectedIds]);
  useKeys(keys, !!configFor || !!dialog);

  if (!doc || !viewDoc) {
    return (
      <div className="dn-loading">
        {D.toasts.length ? D.toasts.map((t) => <p key={t.id} className="dn-error-text" role="alert">{t.text}</p>) : "Loading DeepNodes…"}
      </div>
    );
  }

  const actions: ToolbarActions = {
    newDoc: () => { setStart(false); D.newDoc(); }, open: () => setDialog("open"), start: () => setStart(true), save, saveAs: () => setDialog("saveas"),
    undo: D.undo, redo: D.redo, copy: ops.copy, paste: ops.paste, deleteSelected: ops.deleteSelected,
    makeComponent: () => { const op = makeComponentOp(doc.workflow, ops.selectedIds()); if (typeof op === "string") toast(op, "info"); else perform([op]); },
    openComponent: () => {
      const s = ops.selectedIds();
      if (s.length === 1 && canOpen(viewDoc.workflow.nodes.find((n) => n.id === s[0]))) setInside([...inside, s[0]]);
      else toast("select one component (a node with an inline body) to open it", "info");
    },
    executeSelected: () => { const s = ops.selectedIds(); D.execute(inside.length ? [inside[0]] : s.length ? s : undefined); },
    executeAll: () => D.execute(inside.length ? [inside[0]] : undefined),
    cancel: D.cancel,
    reset: () => { const s = ops.selectedIds(); if (s.length === 1) D.reset(s[0]); else D.reset(); },
    fit: ops.fit,
    deploy: () => setDialog("deploy"),
    setName: (name) => D.setDoc({ ...doc, name }),
    commitName: (name) => perform([{ op: "rename", name }]),
  };
  const applyBest = async (id: string) => {
    try {
      const r = await api<{ ops: Op[]; changes: string[] }>("GET", `/api/docs/${doc.id}/nodes/${encodeURIComponent(id)}/best_ops`);
      if (await perform(r.ops)) toast(`applied: ${r.changes.join("; ")}`, "info");
    } catch (e: any) { toast(e.message); }
  };
  const cfgNode = configFor ? viewDoc.workflow.nodes.find((n) => n.id === configFor) : null;
  const menuNode = menu ? doc.workflow.nodes.find((n) => n.id === menu.node) : null;

  return (
    <EditorContext.Provider value={editorApi}>
      <div className="dn-app">
        <Toolbar doc={doc} wsStatus={D.wsStatus} running={D.running} canUndo={D.history.canUndo} canRedo={D.history.canRedo} actions={actions} />
        <ComponentBreadcrumb doc={doc} path={inside} onGo={(depth) => setInside(inside.slice(0, depth))} />
        <div className="dn-main">
          <Palette catalogue={catalogue} state={D.catalogueState} importErrors={D.importErrors} onAdd={ops.addAtCenter} />
          <Canvas doc={viewDoc} catalogue={catalogue} perform={performView} toast={toast} addNode={ops.addNode} pendingSelect={ops.pendingSelect}
            onConfigure={setConfigFor} onMenu={inside.length ? () => {} : setMenu} />
          {view?.kind === "monitor" && <ViewWindow docked view={view} doc={doc} store={D.store} onClose={() => setView(null)} onStop={D.stop} />}
          {(start === true || (start === "auto" && empty)) && <StartPage onOpen={openDoc} onNew={() => { setStart(false); D.newDoc(); }} onClose={closeStart} />}
        </div>
        <MessagesPanel doc={doc} logs={D.logs} open={panelOpen} onToggle={togglePanel} onShow={showLog} />

        {menu && menuNode && (
          <NodeMenu menu={menu} doc={doc} desc={catalogue[menuNode.type] && { ...catalogue[menuNode.type], ...portsOf(catalogue, menuNode) }}
            store={D.store} running={D.running} onClose={() => setMenu(null)} applyBest={applyBest}
            onConfigure={setConfigFor} onView={setView} execute={D.execute} reset={D.reset} cancel={D.cancel} stop={D.stop} perform={perform} />
        )}

        {cfgNode && catalogue[cfgNode.type] && (
          <ConfigDialog
            key={cfgNode.id}
            desc={catalogue[cfgNode.type]}
            nodeId={cfgNode.id}
            label={cfgNode.label}
            config={cfgNode.config}
            columns={inputColumns(viewDoc, catalogue, cfgNode.id)}
            network={inputNetwork(viewDoc, catalogue, cfgNode.id)}
            onClose={() => setConfigFor(null)}
            onApply={async (config) => (inside.length
              ? ((await performView([{ op: "config", id: cfgNode.id, config }])) ? null : "the option was refused (see the message)")
              : D.applyConfig(cfgNode.id, config))}
          />
        )}

        {view && view.kind !== "monitor" && <ViewWindow view={view} doc={doc} store={D.store} onClose={() => setView(null)} onStop={D.stop} />}

        {dialog === "deploy" && <DeployPanel doc={doc} onClose={() => setDialog(null)} />}
        {dialog === "open" && <OpenDialog onOpen={openDoc} onClose={() => setDialog(null)} />}
        {dialog === "saveas" && (
          <SaveAsDialog initial={doc.path ?? `${(doc.name || "untitled").replace(/[^\w.-]+/g, "_")}.json`} onClose={() => setDialog(null)}
            onSave={async (path, overwrite) => {
              const err = await D.saveAs(path, overwrite);
              if (!err) setDialog(null);
              return err;
            }} />
        )}

        <div className="dn-toasts">
          {D.toasts.map((t) => <div key={t.id} className={`dn-toast ${t.level}`} role={t.level === "error" ? "alert" : "status"}>{t.text}</div>)}
        </div>
      </div>
    </EditorContext.Provider>
  );
}

export function App() {
  return (
    <ReactFlowProvider>
      <Editor />
    </ReactFlowProvider>
  );
}
