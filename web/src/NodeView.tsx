import { Handle, Position, useUpdateNodeInternals, type NodeProps } from "@xyflow/react";
import { memo, useContext, useEffect, useRef, useState } from "react";
import type { PortDesc } from "./graph";
import { EditorContext } from "./context";
import { layerFamily } from "./layerFamily";
import { TIP_SEP } from "./specText";

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
  /** a layer node's output shape ("32×26×26"), and each port's spec in words (specText.ts, TIP_SEP-separated) */
  shape?: string;
  inTips?: string;
  outTips?: string;
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

/** An hourglass drawn in SVG (a glyph would need an emoji font the machine may not have). */
function QueuedIcon() {
  return (
    <svg className="dn-queued" width="10" height="12" viewBox="0 0 10 12" role="img" aria-label="queued">
      <title>queued</title>
      <path d="M1 0.8h8M1 11.2h8M2 1v2.2L5 6 2 8.8V11M8 1v2.2L5 6l3 2.8V11" fill="none" stroke="#ecc94b" strokeWidth="1.3" strokeLinecap="round" strokeLinejoin="round" />
      <path d="M3.2 10.4h3.6L5 8.3z" fill="#ecc94b" />
    </svg>
  );
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
  const measured = useRef(ports);
  useEffect(() => {
    if (measured.current === ports) return; // (React Flow measures a node when it mounts)
    measured.current = ports;
    update(id);
  }, [id, ports, update]);
  const fam = /layers/i.test(d.category) ? layerFamily(`${d.typeName} ${d.category}`) : null;
  const inTips = (d.inTips ?? "").split(TIP_SEP);
  const outTips = (d.outTips ?? "").split(TIP_SEP);
  const hover = d.message ? `${STATE_TEXT[d.state] ?? d.state}: ${d.message}` : STATE_TEXT[d.state] ?? d.state;
  return (
    <div className={`dn-node state-${d.state}${selected ? " selected" : ""}${d.missing ? " missing" : ""}`} data-node-id={id} data-state={d.state}>
      <div className="dn-node-type" title={`${d.typeName} — ${d.category}`}>{d.typeName}</div>
      <div className={`dn-node-box${d.shape ? " has-shape" : ""}`} title={hover}>
        <span className="dn-node-icon" data-family={fam?.id}>{fam ? fam.glyph : icon(d.category)}</span>
        {d.shape && <span className="dn-node-shape" title={`output shape ${d.shape}`}>{d.shape}</span>}
        {d.inputs.map((p, i) => (
          <Handle key={"i" + p.name} id={p.name} type="target" position={Position.Left}
            className={`dn-port port-${p.type}${p.optional ? " optional" : ""}`}
            style={{ top: portTop(i, d.inputs.length), background: p.optional ? "#fff" : PORT_COLORS[p.type] ?? "#777", borderColor: PORT_COLORS[p.type] ?? "#777" }}
            title={`${p.name} (${p.type}${p.optional ? ", optional" : ""}): ${p.description}${inTips[i] ? `\n${inTips[i]}` : ""}`} />
        ))}
        {d.outputs.map((p, i) => (
          <Handle key={"o" + p.name} id={p.name} type="source" position={Position.Right} className={`dn-port port-${p.type}`}
            style={{ top: portTop(i, d.outputs.length), background: PORT_COLORS[p.type] ?? "#777" }}
            title={`${p.name} (${p.type}): ${p.description}${outTips[i] ? `\n${outTips[i]}` : ""}`} />
        ))}
      </div>
      <div className="dn-light" title={hover}>
        <span className={`lamp red${d.state === "idle" || d.state === "failed" ? " on" : ""}`} />
        <span className={`lamp yellow${d.state === "configured" || d.state === "queued" || d.state === "executing" ? " on" : ""}${d.state === "executing" ? " busy" : ""}`} />
        <span className={`lamp green${d.state === "executed" ? " on" : ""}`} />
        {d.state === "failed" && <span className="dn-fail" title={d.message}>!</span>}
        {d.state === "queued" && <QueuedIcon />}
      </div>
      {d.state === "executing" && (
        <div className="dn-running" title={d.progressMessage || "executing"}>
          <div className="dn-progress">
            <div className="bar" style={{ width: `${Math.round((d.progress ?? 0) * 100)}%` }} />
            <span>{d.progress != null ? `${Math.round(d.progress * 100)}%` : "…"}</span>
          </div>
          {d.progressMessage && <div className="dn-progress-msg">{d.progressMessage}</div>}
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
