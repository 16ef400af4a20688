// What the toolbar, the palette and the keys do to the canvas's selection: add, delete, copy, paste.
import { useReactFlow } from "@xyflow/react";
import { type MutableRefObject, useCallback, useRef } from "react";
import { Catalogue, Clip, copySelection, deleteOps, newNodeId, Op, pasteOps } from "./graph";
import type { DocSnapshot } from "./types";
import { FIT } from "./viewFit";

export function useCanvasOps(
  docRef: MutableRefObject<DocSnapshot | null>,
  catalogue: Catalogue,
  perform: (ops: Op[]) => Promise<DocSnapshot | null>,
  toast: (text: string, level?: "error" | "info") => void,
) {
  const rf = useReactFlow();
  const pendingSelect = useRef<Set<string> | null>(null);
  const clip = useRef<Clip | null>(null);

  const addNode = useCallback((type: string, pos: { x: number; y: number }) => {
    const d = docRef.current;
    const desc = catalogue[type];
    if (!d || !desc) return;
    const id = newNodeId(d.workflow, type);
    perform([{ op: "add", id, type, label: desc.name, position: [Math.round(pos.x), Math.round(pos.y)], config: {} }]);
  }, [docRef, catalogue, perform]);

  const addAtCenter = useCallback((type: string) => {
    const el = document.querySelector(".react-flow");
    const r = el?.getBoundingClientRect();
    const jitter = ((docRef.current?.workflow.nodes.length ?? 0) % 5) * 30;
    addNode(type, rf.screenToFlowPosition({ x: (r ? r.left + r.width / 2 : 400) + jitter, y: (r ? r.top + r.height / 2 : 300) + jitter }));
  }, [docRef, addNode, rf]);

  const selectedIds = useCallback(() => rf.getNodes().filter((n) => n.selected).map((n) => n.id), [rf]);

  const deleteSelected = useCallback(() => {
    const d = docRef.current;
    if (!d) return;
    const es = rf.getEdges().filter((e) => e.selected).map((e) => ({ target: e.target, target_port: e.targetHandle! }));
    perform(deleteOps(d.workflow, selectedIds(), es));
  }, [docRef, rf, selectedIds, perform]);

  const copy = useCallback(() => {
    const d = docRef.current;
    const ids = selectedIds();
    if (!d || !ids.length) return;
    clip.current = copySelection(d.workflow, ids);
    try { localStorage.setItem("deepnodes.clipboard", JSON.stringify(clip.current)); } catch { /* full */ }
    toast(`copied ${ids.length} node${ids.length > 1 ? "s" : ""}`, "info");
  }, [docRef, selectedIds, toast]);

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
  }, [docRef, perform]);

  const fit = useCallback(() => rf.fitView(FIT), [rf]);

  const selectAll = useCallback(() => rf.setNodes((ns) => ns.map((n) => (n.selected ? n : { ...n, selected: true }))), [rf]);

  return { pendingSelect, addNode, addAtCenter, selectedIds, selectAll, deleteSelected, copy, paste, fit };
}
