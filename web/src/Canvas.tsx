// The canvas: the document's graph drawn by React Flow, and what the mouse does on it (drag, connect, drop).
// React Flow keeps the node objects in its own store (uncontrolled), so dragging re-renders only what moves,
// not the whole editor; nodes and edges are rebuilt from the document when it changes.
import {
  applyEdgeChanges, Background, Controls, MiniMap, ReactFlow, useReactFlow,
  type Connection, type Edge, type EdgeChange, type Node,
} from "@xyflow/react";
import { type MutableRefObject, useCallback, useEffect, useRef, useState } from "react";
import { canConnect, Catalogue, Op, portsOf } from "./graph";
import { NodeData, NodeView, PORT_COLORS } from "./NodeView";
import { portTexts } from "./specText";
import type { DocSnapshot } from "./types";
import { FIT, wholeGraphVisible } from "./viewFit";

const nodeTypes = { dn: NodeView };

export function stateColor(s: string): string {
  return ({ idle: "#e53e3e", configured: "#ecc94b", queued: "#ecc94b", executing: "#4299e1", executed: "#38a169", failed: "#c53030" } as Record<string, string>)[s] ?? "#aaa";
}

interface Props {
  doc: DocSnapshot;
  catalogue: Catalogue;
  perform: (ops: Op[]) => Promise<DocSnapshot | null>;
  toast: (text: string) => void;
  addNode: (type: string, pos: { x: number; y: number }) => void;
  /** node ids to select once the next document is drawn (a paste selects what it pasted) */
  pendingSelect: MutableRefObject<Set<string> | null>;
  onConfigure: (node: string) => void;
  onMenu: (m: { x: number; y: number; node: string } | null) => void;
}

export function Canvas({ doc, catalogue, perform, toast, addNode, pendingSelect, onConfigure, onMenu }: Props) {
  const rf = useReactFlow();
  const [edges, setEdges] = useState<Edge[]>([]);
  const fittedFor = useRef<string | null>(null);
  const dataCache = useRef(new Map<string, NodeData>());
  const dragging = useRef(new Set<string>());
  const docRef = useRef(doc);
  docRef.current = doc;

  // ---------------------------------------------------------------- graph -> React Flow
  useEffect(() => {
    // nodes wait for the catalogue, so they mount with their ports and React Flow measures each once (a node
    // that mounts without ports must re-measure when they come: 200 separate passes on a reload)
    if (doc.workflow.nodes.length && !Object.keys(catalogue).length) return;
    const prev = new Map(rf.getNodes().map((n) => [n.id, n]));
    const select = pendingSelect.current;
    pendingSelect.current = null;
    const cache = dataCache.current;
    const next: Node[] = doc.workflow.nodes.map((n) => {
      const desc = catalogue[n.type];
      const ports = desc && portsOf(catalogue, n);
      const st = doc.status[n.id];
      const old = cache.get(n.id);
      const data: NodeData = {
        label: n.label, typeName: desc?.name ?? n.type, category: desc?.category ?? "", inputs: ports?.inputs ?? [], outputs: ports?.outputs ?? [],
        state: st?.state ?? "idle", message: st?.message ?? "", progress: st?.progress ?? null, progressMessage: st?.progressMessage ?? "",
        partial: !!st?.partial, missing: !desc, ...portTexts(doc, catalogue, n.id),
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
        const type = portsOf(catalogue, doc.workflow.nodes.find((n) => n.id === c.source))?.outputs.find((p) => p.name === c.source_port)?.type ?? "table";
        const old = prevE.get(id);
        if (old && old.source === c.source && old.sourceHandle === c.source_port) return old;
        return { id, source: c.source, sourceHandle: c.source_port, target: c.target, targetHandle: c.target_port, style: { stroke: PORT_COLORS[type] ?? "#555", strokeWidth: 1.6 } };
      });
    });
    // fit the view when another workflow opens; mark when its nodes are on screen (for the benchmark)
    if (fittedFor.current !== doc.id && (Object.keys(catalogue).length || !doc.workflow.nodes.length)) {
      fittedFor.current = doc.id;
      const id = doc.id;
      const rendered = () => {
        performance.mark("deepnodes:rendered");
        window.__dn.rendered = { doc: id, nodes: document.querySelectorAll(".react-flow__node").length, t: performance.now() };
      };
      // (a fit of an empty canvas would wait for, and jump at, the first node)
      if (doc.workflow.nodes.length) requestAnimationFrame(() => { rf.fitView(FIT).then(() => requestAnimationFrame(rendered)); });
      else requestAnimationFrame(rendered);
    }
  }, [doc, catalogue, rf, pendingSelect]);

  // the pane changes size (the learning monitor docks or undocks, the messages panel opens): a view that showed
  // the whole workflow re-fits, so no node hides behind the monitor; a view zoomed into one part stays
  const pane = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const el = pane.current;
    if (!el) return;
    let last = { w: el.clientWidth, h: el.clientHeight };
    let timer: number | undefined;
    const ro = new ResizeObserver(() => {
      const size = { w: el.clientWidth, h: el.clientHeight };
      if (Math.abs(size.w - last.w) < 2 && Math.abs(size.h - last.h) < 2) return;
      const before = last;
      last = size;
      const nodes = rf.getNodes();
      if (!nodes.length || !before.w || !before.h) return;
      if (timer === undefined && !wholeGraphVisible(rf.getNodesBounds(nodes), rf.getViewport(), before)) return;
      window.clearTimeout(timer);
      timer = window.setTimeout(() => { timer = undefined; rf.fitView(FIT).then(() => { window.__dn.refits = (window.__dn.refits || 0) + 1; }); }, 80);
    });
    ro.observe(el);
    return () => { ro.disconnect(); window.clearTimeout(timer); };
  }, [rf]);

  const onEdgesChange = useCallback((changes: EdgeChange[]) => {
    setEdges((eds) => applyEdgeChanges(changes.filter((c) => c.type !== "remove"), eds));
  }, []);

  const onNodeDragStart = useCallback((_: any, __: Node, dragged: Node[]) => {
    dragged.forEach((n) => dragging.current.add(n.id));
  }, []);
  const onNodeDragStop = useCallback((_: any, __: Node, dragged: Node[]) => {
    const d = docRef.current;
    dragged.forEach((n) => dragging.current.delete(n.id));
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
    if (!c.sourceHandle || !c.targetHandle) return;
    const v = canConnect(d.workflow, catalogue, c.source, c.sourceHandle, c.target, c.targetHandle);
    if (!v.ok) {
      toast(`Cannot connect: ${v.reason}`);
      return;
    }
    perform([{ op: "connect", source: c.source, source_port: c.sourceHandle, target: c.target, target_port: c.targetHandle }]);
  }, [catalogue, perform, toast]);

  const onDrop = useCallback((e: React.DragEvent) => {
    e.preventDefault();
    const type = e.dataTransfer.getData("application/x-deepnodes-node");
    if (!type) return;
    addNode(type, rf.screenToFlowPosition({ x: e.clientX - 40, y: e.clientY - 30 }));
  }, [addNode, rf]);

  return (
    <div className="dn-canvas" ref={pane} onDragOver={(e) => { e.preventDefault(); e.dataTransfer.dropEffect = "copy"; }} onDrop={onDrop}>
      <ReactFlow
        defaultNodes={[]}
        edges={edges}
        onEdgesChange={onEdgesChange}
        nodeTypes={nodeTypes}
        onConnect={onConnect}
        onNodeDragStart={onNodeDragStart}
        onNodeDragStop={onNodeDragStop}
        onNodeDoubleClick={(_, n) => onConfigure(n.id)}
        onNodeContextMenu={(e, n) => { e.preventDefault(); onMenu({ x: e.clientX, y: e.clientY, node: n.id }); }}
        onPaneClick={() => onMenu(null)}
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
  );
}
