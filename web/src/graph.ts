// The editor's graph model: pure functions over the workflow JSON, the edit operations the server applies,
// their inverses (for undo/redo) and the connection rules. No React, no network: unit-tested with Vitest.
import { applyMakeComponent, invertMakeComponent, type MakeComponentOp } from "./makeComponent";

export interface PortDesc {
  name: string;
  type: string;
  description: string;
  optional?: boolean;
}

export interface NodeDesc {
  type: string;
  name: string;
  category: string;
  description: string;
  inputs: PortDesc[];
  outputs: PortDesc[];
  config_schema: any;
}

export type Catalogue = Record<string, NodeDesc>;

export interface GNode {
  id: string;
  type: string;
  label: string;
  position: [number, number];
  config: Record<string, unknown>;
  /** set by the server for a node whose ports its configuration defines (a component's come from its body) */
  ports?: { inputs: PortDesc[]; outputs: PortDesc[] };
}

/** A node's ports: those the server sent for this node, else its type's. */
export function portsOf(cat: Catalogue, n: GNode | undefined): { inputs: PortDesc[]; outputs: PortDesc[] } | undefined {
  if (!n) return undefined;
  return n.ports ?? cat[n.type];
}

export interface GEdge {
  source: string;
  source_port: string;
  target: string;
  target_port: string;
}

export interface Graph {
  format?: string;
  name: string;
  nodes: GNode[];
  connections: GEdge[];
}

export type Op =
  | { op: "add"; id: string; type: string; config?: Record<string, unknown>; label?: string; position: [number, number] }
  | { op: "remove"; id: string }
  | { op: "connect"; source: string; source_port: string; target: string; target_port: string }
  | { op: "disconnect"; target: string; target_port: string }
  | { op: "move"; id: string; position: [number, number] }
  | { op: "label"; id: string; label: string }
  | { op: "config"; id: string; config: Record<string, unknown> }
  | { op: "rename"; name: string }
  | MakeComponentOp;

export class GraphError extends Error {}

function clone<T>(x: T): T {
  return JSON.parse(JSON.stringify(x));
}

export function findNode(g: Graph, id: string): GNode {
  const n = g.nodes.find((x) => x.id === id);
  if (!n) throw new GraphError(`there is no node '${id}'`);
  return n;
}

/** The graph after one operation (a new object; `g` is not changed). */
export function applyOp(g: Graph, op: Op): Graph {
  const out: Graph = { ...g, nodes: g.nodes.slice(), connections: g.connections.slice() };
  switch (op.op) {
    case "add":
      if (out.nodes.some((n) => n.id === op.id)) throw new GraphError(`node id '${op.id}' is used twice`);
      out.nodes.push({ id: op.id, type: op.type, label: op.label ?? "", position: op.position, config: clone(op.config ?? {}) });
      break;
    case "remove":
      findNode(g, op.id);
      out.nodes = out.nodes.filter((n) => n.id !== op.id);
      out.connections = out.connections.filter((c) => c.source !== op.id && c.target !== op.id);
      break;
    case "connect":
      findNode(g, op.source);
      findNode(g, op.target);
      out.connections.push({ source: op.source, source_port: op.source_port, target: op.target, target_port: op.target_port });
      break;
    case "disconnect":
      out.connections = out.connections.filter((c) => !(c.target === op.target && c.target_port === op.target_port));
      break;
    case "move":
    case "label":
    case "config": {
      const i = out.nodes.findIndex((n) => n.id === op.id);
      if (i < 0) throw new GraphError(`there is no node '${op.id}'`);
      const n = { ...out.nodes[i] };
      if (op.op === "move") n.position = op.position;
      else if (op.op === "label") n.label = op.label;
      else n.config = clone(op.config);
      out.nodes[i] = n;
      break;
    }
    case "rename":
      out.name = op.name;
      break;
    case "make_component":
      return applyMakeComponent(g, op);
  }
  return out;
}

export function applyOps(g: Graph, ops: Op[]): Graph {
  return ops.reduce(applyOp, g);
}

/** The operations that undo `ops` when applied to the graph `ops` produce from `g`. */
export function invertOps(g: Graph, ops: Op[]): Op[] {
  const inverse: Op[][] = [];
  let cur = g;
  for (const op of ops) {
    inverse.push(invertOne(cur, op));
    cur = applyOp(cur, op);
  }
  return inverse.reverse().flat();
}

function invertOne(g: Graph, op: Op): Op[] {
  switch (op.op) {
    case "add":
      return [{ op: "remove", id: op.id }];
    case "remove": {
      const n = findNode(g, op.id);
      const edges = g.connections.filter((c) => c.source === op.id || c.target === op.id);
      return [
        { op: "add", id: n.id, type: n.type, config: clone(n.config), label: n.label, position: n.position },
        ...edges.map((c) => ({ op: "connect" as const, ...c })),
      ];
    }
    case "connect": {
      const prior = g.connections.find((c) => c.target === op.target && c.target_port === op.target_port);
      const undo: Op[] = [{ op: "disconnect", target: op.target, target_port: op.target_port }];
      if (prior) undo.push({ op: "connect", ...prior });
      return undo;
    }
    case "disconnect": {
      const prior = g.connections.find((c) => c.target === op.target && c.target_port === op.target_port);
      return prior ? [{ op: "connect", ...prior }] : [];
    }
    case "move":
      return [{ op: "move", id: op.id, position: findNode(g, op.id).position }];
    case "label":
      return [{ op: "label", id: op.id, label: findNode(g, op.id).label }];
    case "config":
      return [{ op: "config", id: op.id, config: clone(findNode(g, op.id).config) }];
    case "rename":
      return [{ op: "rename", name: g.name }];
    case "make_component":
      return invertMakeComponent(g, op);
  }
}

/** Undo / redo stacks of (forward, inverse) operation lists. */
export class History {
  private done: { forward: Op[]; inverse: Op[] }[] = [];
  private undone: { forward: Op[]; inverse: Op[] }[] = [];
  constructor(public limit = 200) {}

  record(g: Graph, ops: Op[]): void {
    this.done.push({ forward: ops, inverse: invertOps(g, ops) });
    if (this.done.length > this.limit) this.done.shift();
    this.undone = [];
  }
  get canUndo(): boolean {
    return this.done.length > 0;
  }
  get canRedo(): boolean {
    return this.undone.length > 0;
  }
  /** The operations to send for an undo (the entry moves to the redo stack). */
  undo(): Op[] | null {
    const e = this.done.pop();
    if (!e) return null;
    this.undone.push(e);
    return e.inverse;
  }
  redo(): Op[] | null {
    const e = this.undone.pop();
    if (!e) return null;
    this.done.push(e);
    return e.forward;
  }
  /** Put back an entry whose undo/redo the server refused. */
  restore(kind: "undo" | "redo"): void {
    if (kind === "undo") {
      const e = this.undone.pop();
      if (e) this.done.push(e);
    } else {
      const e = this.done.pop();
      if (e) this.undone.push(e);
    }
  }
  clear(): void {
    this.done = [];
    this.undone = [];
  }
}

export interface Verdict {
  ok: boolean;
  reason?: string;
}

function reaches(g: Graph, from: string, to: string): boolean {
  const seen = new Set<string>();
  const todo = [from];
  while (todo.length) {
    const n = todo.pop()!;
    if (n === to) return true;
    if (seen.has(n)) continue;
    seen.add(n);
    for (const c of g.connections) if (c.source === n) todo.push(c.target);
  }
  return false;
}

/** Whether an output port may be connected to an input port, and if not, why (one sentence). */
export function canConnect(g: Graph, cat: Catalogue, source: string, sourcePort: string, target: string, targetPort: string): Verdict {
  const s = g.nodes.find((n) => n.id === source);
  const t = g.nodes.find((n) => n.id === target);
  if (!s || !t) return { ok: false, reason: "both ends must be nodes of this workflow" };
  if (source === target) return { ok: false, reason: "a node cannot be connected to itself" };
  const sd = cat[s.type] && portsOf(cat, s);
  const td = cat[t.type] && portsOf(cat, t);
  if (!sd || !td) return { ok: false, reason: `the node type '${!sd ? s.type : t.type}' is not installed` };
  const sp = sd.outputs.find((p) => p.name === sourcePort);
  const tp = td.inputs.find((p) => p.name === targetPort);
  if (!sp) return { ok: false, reason: `'${s.label}' has no output port '${sourcePort}'` };
  if (!tp) return { ok: false, reason: `'${t.label}' has no input port '${targetPort}'` };
  if (sp.type !== tp.type)
    return {
      ok: false,
      reason: `'${s.label}' outputs a ${sp.type} on '${sp.name}', but '${t.label}' expects a ${tp.type} on '${tp.name}'`,
    };
  const taken = g.connections.find((c) => c.target === target && c.target_port === targetPort);
  if (taken) {
    const from = g.nodes.find((n) => n.id === taken.source)?.label ?? taken.source;
    return { ok: false, reason: `input '${tp.name}' of '${t.label}' is already connected to '${from}'; remove that connection first` };
  }
  if (reaches(g, target, source)) return { ok: false, reason: `connecting '${s.label}' to '${t.label}' would make a cycle` };
  return { ok: true };
}

/** A new node id from the node type: "deepnodes.data.CSVReader" -> "csvreader1", unique in `g`. */
export function newNodeId(g: Graph, type: string, taken: Set<string> = new Set()): string {
  const base = (type.split(".").pop() || "node").toLowerCase().replace(/[^a-z0-9_]/g, "") || "node";
  const have = new Set([...g.nodes.map((n) => n.id), ...taken]);
  let i = 1;
  while (have.has(`${base}${i}`)) i++;
  return `${base}${i}`;
}

export interface Clip {
  nodes: GNode[];
  connections: GEdge[];
}

/** The selected nodes and the connections between them. */
export function copySelection(g: Graph, ids: string[]): Clip {
  const set = new Set(ids);
  return {
    nodes: clone(g.nodes.filter((n) => set.has(n.id))),
    connections: clone(g.connections.filter((c) => set.has(c.source) && set.has(c.target))),
  };
}

/** Operations that paste a clip with fresh ids, shifted by `offset`. Returns the ops and the new ids. */
export function pasteOps(g: Graph, clip: Clip, offset: [number, number] = [40, 40]): { ops: Op[]; ids: string[] } {
  const taken = new Set<string>();
  const map = new Map<string, string>();
  const ops: Op[] = [];
  for (const n of clip.nodes) {
    const id = newNodeId(g, n.type, taken);
    taken.add(id);
    map.set(n.id, id);
    ops.push({ op: "add", id, type: n.type, config: clone(n.config), label: n.label, position: [n.position[0] + offset[0], n.position[1] + offset[1]] });
  }
  for (const c of clip.connections) {
    ops.push({ op: "connect", source: map.get(c.source)!, source_port: c.source_port, target: map.get(c.target)!, target_port: c.target_port });
  }
  return { ops, ids: [...map.values()] };
}

/** Operations that delete nodes (and their connections) and loose connections. */
export function deleteOps(g: Graph, nodeIds: string[], edges: { target: string; target_port: string }[]): Op[] {
  const gone = new Set(nodeIds);
  const ops: Op[] = [];
  for (const e of edges) {
    if (!gone.has(e.target) && g.connections.some((c) => c.target === e.target && c.target_port === e.target_port)) {
      const c = g.connections.find((c) => c.target === e.target && c.target_port === e.target_port)!;
      if (!gone.has(c.source)) ops.push({ op: "disconnect", target: e.target, target_port: e.target_port });
    }
  }
  for (const id of nodeIds) ops.push({ op: "remove", id });
  return ops;
}
