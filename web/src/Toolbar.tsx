// The toolbar: files, edits, runs, the view, the workflow's name and the connection lamp.
import type { WsStatus } from "./api";
import type { DocSnapshot } from "./types";

export interface ToolbarActions {
  newDoc: () => void;
  start?: () => void;
  open: () => void;
  save: () => void;
  saveAs: () => void;
  undo: () => void;
  redo: () => void;
  copy: () => void;
  paste: () => void;
  deleteSelected: () => void;
  makeComponent?: () => void;
  openComponent?: () => void;
  deploy?: () => void;
  executeSelected: () => void;
  executeAll: () => void;
  cancel: () => void;
  reset: () => void;
  fit: () => void;
  setName: (name: string) => void;
  commitName: (name: string) => void;
}

interface Props {
  doc: DocSnapshot;
  wsStatus: WsStatus;
  running: boolean;
  canUndo: boolean;
  canRedo: boolean;
  actions: ToolbarActions;
}

export function Toolbar({ doc, wsStatus, running, canUndo, canRedo, actions: a }: Props) {
  return (
    <header className="dn-toolbar">
      <button className="dn-logo" onClick={a.start} title="the start page: examples and recent workflows" data-testid="start-page">DeepNodes</button>
      <button onClick={a.newDoc} title="new workflow">New</button>
      <button onClick={a.open} title="open a workflow or an example" data-testid="open">Open…</button>
      <button onClick={a.save} title="save (Ctrl+S)">Save</button>
      <button onClick={a.saveAs}>Save as…</button>
      <span className="sep" />
      <button onClick={a.undo} disabled={!canUndo} title="undo (Ctrl+Z)">↶<span className="lbl"> Undo</span></button>
      <button onClick={a.redo} disabled={!canRedo} title="redo (Ctrl+Shift+Z)">↷<span className="lbl"> Redo</span></button>
      <button onClick={a.copy} title="copy the selected nodes (Ctrl+C)">Copy</button>
      <button onClick={a.paste} title="paste (Ctrl+V)">Paste</button>
      <button onClick={a.deleteSelected} title="delete the selection (Del)">✕<span className="lbl"> Delete</span></button>
      {a.makeComponent && <button onClick={a.makeComponent} disabled={running} data-testid="make-component"
        title="make one component of the selected nodes (the connections across its edge become its ports)">⊞<span className="lbl"> Make component</span></button>}
      {a.openComponent && <button onClick={a.openComponent} data-testid="open-component"
        title="open the selected component to edit its body in place (the breadcrumb leads back)">⊡<span className="lbl"> Open component</span></button>}
      <span className="sep" />
      <button className="primary" onClick={a.executeSelected} title="execute the selected nodes, or all (F7)" data-testid="execute-selected">▶<span className="lbl"> Execute</span></button>
      <button className="primary" onClick={a.executeAll} title="execute every node (Shift+F7)" data-testid="execute-all">▶▶<span className="lbl"> Execute all</span></button>
      <button onClick={a.cancel} disabled={!running} className="danger" title="cancel the run (F9)" data-testid="cancel">■<span className="lbl"> Cancel</span></button>
      <button onClick={a.reset} disabled={running} title="reset the selected node (or all)">⟲<span className="lbl"> Reset</span></button>
      <span className="sep" />
      <button onClick={a.fit} title="fit the workflow into view">Fit</button>
      {a.deploy && <button onClick={a.deploy} data-testid="deploy" title="serve this workflow or export it as a bundle">⇪<span className="lbl"> Deploy</span></button>}
      <span className="dn-docname" title={doc.path ?? (doc.example ? `example ${doc.example} (not saved)` : "not saved yet")}>
        <input value={doc.name} aria-label="workflow name" title={doc.name} size={Math.max(8, doc.name.length + 1)} onChange={(e) => a.setName(e.target.value)}
          onBlur={(e) => a.commitName(e.target.value || "untitled")} />
        {doc.dirty ? " ●" : ""} <span className="muted">{doc.path ?? (doc.example ? `example: ${doc.example}` : "unsaved")}</span>
      </span>
      <span className={`dn-ws ws-${wsStatus}`} data-testid="ws-status">{wsStatus === "open" ? "● live" : wsStatus === "connecting" ? "○ connecting…" : "○ reconnecting…"}</span>
    </header>
  );
}
