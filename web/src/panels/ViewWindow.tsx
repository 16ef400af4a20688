// The window that shows a node's output, monitor, scorer or log.
import { Component, type ReactNode, useEffect, useState } from "react";
import { api } from "../api";
import { AttentionView } from "../AttentionView";
import type { MetricsStore } from "../metrics";
import type { DocSnapshot, NodeStatus } from "../types";
import { Monitor } from "../views/Monitor";
import { NetworkView } from "../views/NetworkView";
import { ScorerView } from "../views/ScorerView";
import { TableView } from "../views/TableView";
import { TryItBox } from "../TryItBox";

export type View =
  | { kind: "table" | "network" | "summary" | "attention"; node: string; port: string }
  | { kind: "monitor" | "scorer" | "log"; node: string }
  | { kind: "tryit"; node: string; generator: boolean };

/** `docked`: a side panel beside the canvas (the learning monitor), not a window over it. */
export function ViewWindow({ view, doc, store, onClose, onStop, docked = false }: { view: View; doc: DocSnapshot; store: MetricsStore; onClose: () => void; onStop: (node: string) => void; docked?: boolean }) {
  const viewNode = doc.workflow.nodes.find((n) => n.id === view.node);
  if (!viewNode) return null;
  return (
    <div className={`dn-viewwin${docked ? " docked" : ""}`} role={docked ? "complementary" : "dialog"} aria-label={docked ? viewTitle(view) : "port view"}>
      <header>
        <b>{viewTitle(view)}</b> — {viewNode.label} <span className="muted">({viewNode.id})</span>
        <span className="grow" />
        <button className="close" onClick={onClose} aria-label="close view">×</button>
      </header>
      <div className="dn-viewbody"><ViewBoundary key={JSON.stringify(view)}>
        {view.kind === "table" && <TableView key={`${view.node}/${view.port}/${doc.status[view.node]?.state}`} docId={doc.id} node={view.node} port={view.port} />}
        {view.kind === "network" && <NetworkView key={`${view.node}/${doc.status[view.node]?.state}`} docId={doc.id} node={view.node} port={view.port} />}
        {view.kind === "summary" && <SummaryView docId={doc.id} node={view.node} port={view.port} />}
        {view.kind === "monitor" && <Monitor docId={doc.id} node={view.node} store={store} status={doc.status[view.node]} onStop={() => onStop(view.node)} />}
        {view.kind === "scorer" && <ScorerView key={`${view.node}/${doc.status[view.node]?.state}`} docId={doc.id} node={view.node} />}
        {view.kind === "attention" && <AttentionView key={`${view.node}/${doc.status[view.node]?.state}`} docId={doc.id} node={view.node} port={view.port} />}
        {view.kind === "tryit" && <TryItBox docId={doc.id} node={view.node} generator={view.generator} />}
        {view.kind === "log" && <LogView docId={doc.id} node={view.node} status={doc.status[view.node]} />}
      </ViewBoundary></div>
    </div>
  );
}

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
    case "attention": return `Attention: ${v.port}`;
    case "tryit": return "Try it";
  }
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
