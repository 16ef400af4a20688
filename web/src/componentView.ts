// Opening a component in place: the canvas shows the body of a node (a Component, a loop, a search) and edits go
// to that body (the server applies an operation with `in: "comp"` inside the node's inline body). The path is the
// holders from the top: ["comp"] or ["comp", "inner"] for a body inside a body.
import type { GNode, Graph, Op } from "./graph";
import type { DocSnapshot, NodeStatus } from "./types";

interface Body { nodes: GNode[]; connections: Graph["connections"] }

function inlineBody(n: GNode | undefined): Body | null {
  const b = n?.config?.body as Body | undefined;
  return b && Array.isArray(b.nodes) ? { nodes: b.nodes, connections: Array.isArray(b.connections) ? b.connections : [] } : null;
}

/** Whether the node holds an inline body that can be opened (a body that is a file is edited as that file). */
export function canOpen(n: GNode | undefined): boolean {
  return !!inlineBody(n);
}

/** The document as the canvas shows it inside `path`: the body's nodes and connections, each in the state of the
 * outermost holder (a body's nodes are all configured, or all ran, with it: the holder's progress shows them
 * running); null when the path no longer leads to an inline body. */
export function bodyDoc(doc: DocSnapshot, path: string[]): DocSnapshot | null {
  let g: Graph = doc.workflow;
  for (const id of path) {
    const b = inlineBody(g.nodes.find((n) => n.id === id));
    if (!b) return null;
    g = { name: id, nodes: b.nodes.map((n) => ({ ...n, position: n.position ?? [0, 0], label: n.label ?? "", config: n.config ?? {} })), connections: b.connections };
  }
  if (!path.length) return doc;
  const held = doc.status[path[0]];
  const state = held?.state === "executed" || held?.state === "configured" ? held.state : "configured";
  const status = Object.fromEntries(g.nodes.map((n) => [n.id, { state, message: "", progress: null } as NodeStatus]));
  return { ...doc, workflow: g, status };
}

/** The operations sent for edits made inside `path`. */
export function insideOps(ops: Op[], path: string[]): (Op & { in?: string })[] {
  return path.length ? ops.map((o) => ({ ...o, in: path.join("/") })) : ops;
}

/** The breadcrumb's steps: the workflow, then each opened holder by its label. */
export function crumbs(doc: DocSnapshot, path: string[]): { label: string; depth: number }[] {
  const out = [{ label: doc.workflow.name || doc.name || "workflow", depth: 0 }];
  let g: Graph = doc.workflow;
  path.forEach((id, i) => {
    const n = g.nodes.find((x) => x.id === id);
    out.push({ label: n?.label || id, depth: i + 1 });
    const b = inlineBody(n);
    g = { name: id, nodes: b?.nodes ?? [], connections: b?.connections ?? [] };
  });
  return out;
}
