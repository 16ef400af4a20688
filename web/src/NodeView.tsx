import { Handle, Position, useUpdateNodeInternals, type NodeProps } from "@xyflow/react";
import { memo, useContext, useEffect, useState } from "react";
import type { PortDesc } from "./graph";
import { EditorContext } from "./context";

export interface NodeData extends Record<string, unknown> {
  label: string;
  typeName: string;
  category: string;
  inputs: PortDesc[];
  outputs: PortDesc[];
  state: string;
  message: string;
  progress: number | null;
  progressMessage: string;
  partial: boolean;
  missing: boolean;
}

export const PORT_COLORS: Record<string, string> = { table: "#222", network: "#2b6cb0", model: "#2f855a" };

const STATE_TEXT: Record<string, string> = {
  idle: "not configured",
  configured: "configured",
  queued: "queued",
  executing: "executing",
  executed: "executed",
  failed: "failed",
};

function icon(category: string): string {
  const c = category.toLowerCase();
  if (c.includes("layer")) return "▦";
  if (c.includes("learner") || c.includes("train")) return "⚙";
  if (c.includes("score")) return "✓";
  if (c.includes("io") || c.includes("read")) return "⇩";
  if (c.includes("text")) return "¶";
  if (c.includes("image")) return "▣";
  return "◆";
}

function portKey(ports: PortDesc[]): string {
  return ports.map((p) => p.name).join(",");
}

function portTop(i: number, n: number): string {
  return `${((i + 1) * 100) / (n + 1)}%`;
}

function NodeViewImpl({ id, data, selected }: NodeProps) {
  const d = data as NodeData;
  const ed = useContext(EditorContext);
  const [editing, setEditing] = useState(false);
  const [text, setText] = useState(d.label);
  // React Flow measures a node's handles only when the node mounts or resizes; edges need those measurements, so
  // whenever the set of ports changes (the catalogue arrived after the workflow, another workflow reused this id)
  // the handles are measured again, after they are in the DOM.
  const update = useUpdateNodeInternals();
  const ports = portKey(d.inputs) + "|" + portKey(d.outputs);
  useEffect(() => update(id), [id, ports, update]);
  const hover = d.message ? `${STATE_TEXT[d.state] ?? d.state}: ${d.message}` : STATE_TEXT[d.state] ?? d.state;
  return (
    <div className={`dn-node state-${d.state}${selected ? " selected" : ""}${d.missing ? " missing" : ""}`} data-node-id={id} data-state={d.state}>
      <div className="dn-node-type" title={`${d.typeName} — ${d.category}`}>{d.typeName}</div>
      <div className="dn-node-box" title={hover}>
        <span className="dn-node-icon">{icon(d.category)}</span>
        {d.inputs.map((p, i) => (
          <Handle key={"i" + p.name} id={p.name} type="target" position={Position.Left}
            className={`dn-port port-${p.type}${p.optional ? " optional" : ""}`}
            style={{ top: portTop(i, d.inputs.length), background: p.optional ? "#fff" : PORT_COLORS[p.type] ?? "#777", borderColor: PORT_COLORS[p.type] ?? "#777" }}
            title={`${p.name} (${p.type}${p.optional ? ", optional" : ""}): ${p.description}`} />
        ))}
        {d.outputs.map((p, i) => (
          <Handle key={"o" + p.name} id={p.name} type="source" position={Position.Right} className={`dn-port port-${p.type}`}
            style={{ top: portTop(i, d.outputs.length), background: PORT_COLORS[p.type] ?? "#777" }}
            title={`${p.name} (${p.type}): ${p.description}`} />
        ))}
      </div>
      <div className="dn-light" title={hover}>
        <span className={`lamp red${d.state === "idle" || d.state === "failed" ? " on" : ""}`} />
        <span className={`lamp yellow${d.state === "configured" || d.state === "queued" ? " on" : ""}`} />
        <span className={`lamp green${d.state === "executed" ? " on" : ""}`} />
        {d.state === "failed" && <span className="dn-fail" title={d.message}>!</span>}
        {d.state === "queued" && <span className="dn-queued" title="queued">⏳</span>}
      </div>
      {d.state === "executing" && (
        <div className="dn-progress" title={d.progressMessage || "executing"}>
          <div className="bar" style={{ width: `${Math.round((d.progress ?? 0) * 100)}%` }} />
          <span>{d.progress != null ? `${Math.round(d.progress * 100)}%` : "…"} {d.progressMessage}</span>
        </div>
      )}
      {editing ? (
        <input className="dn-label-edit nodrag" autoFocus value={text}
          onChange={(e) => setText(e.target.value)}
          onBlur={() => { setEditing(false); if (text !== d.label) ed.relabel(id, text); }}
          onKeyDown={(e) => {
            if (e.key === "Enter") (e.target as HTMLInputElement).blur();
            if (e.key === "Escape") { setText(d.label); setEditing(false); }
            e.stopPropagation();
          }} />
      ) : (
        <div className="dn-label" title="double-click to rename" onDoubleClick={(e) => { e.stopPropagation(); setText(d.label); setEditing(true); }}>{d.label}</div>
      )}
    </div>
  );
}

export const NodeView = memo(NodeViewImpl);
