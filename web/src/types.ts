import type { Graph } from "./graph";

export interface NodeStatus {
  state: "idle" | "configured" | "queued" | "executing" | "executed" | "failed";
  message: string;
  progress: number | null;
  progressMessage?: string;
  scalars: Record<string, unknown>;
  specs: any[];
  seconds: number | null;
  partial?: boolean;
  has_traceback?: boolean;
}

export interface DocSnapshot {
  id: string;
  name: string;
  path: string | null;
  example: string | null;
  version: number;
  dirty: boolean;
  running: boolean;
  workflow: Graph;
  status: Record<string, NodeStatus>;
}

export interface MetricPoint {
  kind?: "batch" | "epoch";
  step: number | null;
  epoch: number | null;
  values: Record<string, number>;
  time?: number;
}

export interface LogLine {
  node: string | null;
  level: string;
  line: string;
  time?: number;
}
