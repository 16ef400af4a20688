// The right-click menu of a node: configure, run, its views, rename, delete.
import { deleteOps, NodeDesc, Op } from "../graph";
import type { MetricsStore } from "../metrics";
import type { DocSnapshot } from "../types";
import type { View } from "./ViewWindow";

export const isLearner = (d: NodeDesc | undefined) => !!d && (/learner|trainer/i.test(d.type) || /learner/i.test(d.category)) && d.outputs.some((p) => p.type === "network" || p.name.includes("history"));
const isScorer = (d: NodeDesc | undefined) => !!d && /scor/i.test(d.type);
/** Text Generator and Sequence Decoder: a "try it" box; the Decoder's 'attention' output: the heat map. */
const TRY_IT = ["deepnodes.text.TextGenerator", "deepnodes.text.SequenceDecoder"];
const portView = (d: NodeDesc | undefined, p: { name: string; type: string }) =>
  d?.type === TRY_IT[1] && p.name === "attention" ? "attention" : p.type === "table" ? "table" : p.type === "network" ? "network" : "summary";

interface Props {
  menu: { x: number; y: number; node: string };
  doc: DocSnapshot;
  desc: NodeDesc | undefined;
  store: MetricsStore;
  running: boolean;
  onClose: () => void;
  onConfigure: (node: string) => void;
  onView: (v: View) => void;
  execute: (nodes: string[]) => void;
  reset: (node: string) => void;
  cancel: () => void;
  stop: (node: string) => void;
  perform: (ops: Op[]) => void;
  /** a Parameter Search's best configuration into its body (an undoable config edit) */
  applyBest?: (node: string) => void;
}

export function NodeMenu({ menu, doc, desc, store, running, onClose, onConfigure, onView, execute, reset, cancel, stop, perform, applyBest }: Props) {
  const id = menu.node;
  const act = (f: () => void) => () => { f(); onClose(); };
  return (
    <div className="dn-menu" style={{ left: menu.x, top: menu.y }} onMouseLeave={onClose} role="menu">
      <button onClick={act(() => onConfigure(id))}>Configure…</button>
      <button onClick={act(() => execute([id]))}>Execute</button>
      <button onClick={act(() => reset(id))} disabled={running}>Reset</button>
      {running && <button onClick={act(cancel)}>Cancel run</button>}
      <hr />
      {desc?.outputs.map((p) => (
        <button key={p.name} onClick={act(() => onView({ kind: portView(desc, p), node: id, port: p.name }))}>
          View: {p.name} <span className="muted">({p.type})</span>
        </button>
      ))}
      {(isLearner(desc) || store.has(id)) && <button onClick={act(() => onView({ kind: "monitor", node: id }))}>Learning monitor</button>}
      {isLearner(desc) && doc.status[id]?.state === "executing" && <button onClick={act(() => stop(id))}>Stop learning (keep model)</button>}
      {desc && TRY_IT.includes(desc.type) && <button onClick={act(() => onView({ kind: "tryit", node: id, generator: desc.type === TRY_IT[0] }))}>Try it…</button>}
      {isScorer(desc) && <button onClick={act(() => onView({ kind: "scorer", node: id }))}>Scorer view</button>}
      {applyBest && desc?.type === "deepnodes.flow.ParameterSearch" && doc.status[id]?.state === "executed" && (
        <button onClick={act(() => applyBest(id))} data-testid="apply-best">Apply best configuration</button>)}
      <button onClick={act(() => onView({ kind: "log", node: id }))}>Messages and log</button>
      <hr />
      <button onClick={act(() => { const el = document.querySelector(`[data-node-id="${id}"] .dn-label`) as HTMLElement; el?.dispatchEvent(new MouseEvent("dblclick", { bubbles: true })); })}>Rename</button>
      <button onClick={act(() => perform(deleteOps(doc.workflow, [id], [])))}>Delete</button>
    </div>
  );
}
