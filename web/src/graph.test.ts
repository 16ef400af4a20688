import { describe, expect, it } from "vitest";
import {
  applyOps, canConnect, Catalogue, copySelection, deleteOps, Graph, History, invertOps, newNodeId, Op, pasteOps,
} from "./graph";

const cat: Catalogue = {
  "t.Reader": { type: "t.Reader", name: "Reader", category: "Data", description: "", inputs: [], outputs: [{ name: "table", type: "table", description: "" }], config_schema: {} },
  "t.Filter": {
    type: "t.Filter", name: "Filter", category: "Data", description: "",
    inputs: [{ name: "table", type: "table", description: "" }], outputs: [{ name: "table", type: "table", description: "" }], config_schema: {},
  },
  "t.Dense": {
    type: "t.Dense", name: "Dense", category: "Layers", description: "",
    inputs: [{ name: "network", type: "network", description: "" }], outputs: [{ name: "network", type: "network", description: "" }], config_schema: {},
  },
};

function base(): Graph {
  return applyOps({ name: "g", nodes: [], connections: [] }, [
    { op: "add", id: "r", type: "t.Reader", label: "Reader", position: [0, 0], config: { path: "a.csv" } },
    { op: "add", id: "f1", type: "t.Filter", label: "Filter 1", position: [100, 0] },
    { op: "add", id: "f2", type: "t.Filter", label: "Filter 2", position: [200, 0] },
    { op: "connect", source: "r", source_port: "table", target: "f1", target_port: "table" },
    { op: "connect", source: "f1", source_port: "table", target: "f2", target_port: "table" },
  ]);
}

describe("undo and redo", () => {
  it("inverts every kind of edit exactly", () => {
    const g = base();
    const batches: Op[][] = [
      [{ op: "move", id: "f1", position: [5, 7] }],
      [{ op: "label", id: "f1", label: "Keep" }],
      [{ op: "config", id: "r", config: { path: "b.csv", sep: ";" } }],
      [{ op: "remove", id: "f1" }],
      [{ op: "disconnect", target: "f2", target_port: "table" }],
      [{ op: "rename", name: "other" }],
      [{ op: "add", id: "x", type: "t.Filter", label: "X", position: [1, 1] }, { op: "connect", source: "f2", source_port: "table", target: "x", target_port: "table" }],
      [{ op: "remove", id: "r" }, { op: "remove", id: "f2" }],
    ];
    for (const ops of batches) {
      const after = applyOps(g, ops);
      expect(after).not.toEqual(g);
      const back = applyOps(after, invertOps(g, ops));
      expect(sorted(back)).toEqual(sorted(g));
    }
  });

  it("walks a history back and forth", () => {
    const h = new History();
    let g = base();
    const states = [g];
    const steps: Op[][] = [
      [{ op: "move", id: "f2", position: [9, 9] }],
      [{ op: "remove", id: "f1" }],
      [{ op: "add", id: "f3", type: "t.Filter", label: "F3", position: [0, 50] }],
    ];
    for (const ops of steps) {
      h.record(g, ops);
      g = applyOps(g, ops);
      states.push(g);
    }
    expect(h.canUndo).toBe(true);
    for (let i = steps.length - 1; i >= 0; i--) {
      g = applyOps(g, h.undo()!);
      expect(sorted(g)).toEqual(sorted(states[i]));
    }
    expect(h.canUndo).toBe(false);
    expect(h.undo()).toBeNull();
    for (let i = 1; i <= steps.length; i++) {
      g = applyOps(g, h.redo()!);
      expect(sorted(g)).toEqual(sorted(states[i]));
    }
    expect(h.canRedo).toBe(false);
  });

  it("drops the redo stack on a new edit and restores a refused undo", () => {
    const h = new History();
    let g = base();
    h.record(g, [{ op: "move", id: "f1", position: [1, 2] }]);
    g = applyOps(g, [{ op: "move", id: "f1", position: [1, 2] }]);
    h.undo();
    expect(h.canRedo).toBe(true);
    h.restore("undo");
    expect(h.canUndo).toBe(true);
    expect(h.canRedo).toBe(false);
    h.undo();
    h.record(g, [{ op: "label", id: "f1", label: "y" }]);
    expect(h.canRedo).toBe(false);
  });
});

describe("connection rules", () => {
  it("connects only compatible, free, acyclic ports and says why not", () => {
    const g = applyOps(base(), [
      { op: "add", id: "d", type: "t.Dense", label: "Dense", position: [0, 0] },
      { op: "add", id: "f3", type: "t.Filter", label: "Filter 3", position: [0, 0] },
    ]);
    expect(canConnect(g, cat, "f2", "table", "f3", "table")).toEqual({ ok: true });
    const typ = canConnect(g, cat, "r", "table", "d", "network");
    expect(typ.ok).toBe(false);
    expect(typ.reason).toBe("'Reader' outputs a table on 'table', but 'Dense' expects a network on 'network'");
    expect(canConnect(g, cat, "r", "table", "f1", "table").reason).toContain("already connected to 'Reader'");
    expect(canConnect(g, cat, "f2", "table", "f2", "table").reason).toContain("itself");
    const g2 = applyOps(g, [{ op: "disconnect", target: "f1", target_port: "table" }]);
    expect(canConnect(g2, cat, "f2", "table", "f1", "table").reason).toContain("cycle");
    expect(canConnect(g, cat, "r", "nope", "f3", "table").reason).toContain("no output port 'nope'");
  });
});

describe("ids, copy and paste, delete", () => {
  it("makes fresh ids and pastes with internal connections only", () => {
    const g = base();
    expect(newNodeId(g, "t.Filter")).toBe("filter1");
    const g1 = applyOps(g, [{ op: "add", id: "filter1", type: "t.Filter", label: "", position: [0, 0] }]);
    expect(newNodeId(g1, "t.Filter")).toBe("filter2");
    const clip = copySelection(g, ["f1", "f2"]);
    expect(clip.connections).toHaveLength(1);
    const { ops, ids } = pasteOps(g, clip);
    expect(ids).toEqual(["filter1", "filter2"]);
    const pasted = applyOps(g, ops);
    expect(pasted.nodes).toHaveLength(5);
    expect(pasted.connections).toContainEqual({ source: "filter1", source_port: "table", target: "filter2", target_port: "table" });
    expect(pasted.nodes.find((n) => n.id === "filter1")!.position).toEqual([140, 40]);
  });

  it("deletes nodes with their connections, and loose connections", () => {
    const g = base();
    const ops = deleteOps(g, ["f1"], [{ target: "f1", target_port: "table" }]);
    expect(ops).toEqual([{ op: "remove", id: "f1" }]);
    const after = applyOps(g, ops);
    expect(after.connections).toEqual([]);
    expect(deleteOps(g, [], [{ target: "f2", target_port: "table" }])).toEqual([{ op: "disconnect", target: "f2", target_port: "table" }]);
  });
});

function sorted(g: Graph) {
  return {
    name: g.name,
    nodes: [...g.nodes].sort((a, b) => a.id.localeCompare(b.id)),
    connections: [...g.connections].sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b))),
  };
}
