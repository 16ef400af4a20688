"""The web editor in real headless Chromium: how long a 200-node workflow takes to render, how long each
frame takes while a node is dragged and while a connection is drawn, how soon a new connection's edge is on
screen, and how long the start page takes to show its example cards.

    .venv/bin/python benchmarks/bench_editor.py [--nodes 200] [--runs 3]

Targets (issue 4): the 200-node workflow renders in under 1 s; dragging stays under 16 ms a frame.
- render: from the moment the workflow's JSON has arrived in the page to the first frame painted with
  every node on screen (React Flow measured, view fitted); also from navigation start (bundle load,
  catalogue and workflow requests included).
- drag: a node is dragged with the mouse across the canvas (120 mouse moves, about one per frame) while
  Chromium's own trace runs; for each frame (between two `BeginMainThreadFrame` events of the page's
  main thread) we add up the time the main thread was busy running tasks (input handling, React, style,
  layout, paint): that is the work per frame, to compare with the 16 ms budget of 60 frames a second.
  The interval between requestAnimationFrame callbacks is printed too.
- edge drawing (issue 9): a connection is drawn with the mouse from the second-last node's output to the
  last node's free input (the connection line follows the mouse; same per-frame measure as the drag), and
  the time from releasing the mouse to the new edge in the DOM (the edit's round trip to the server included).
- start page (issue 9): a fresh tab (no workflow to reopen) from navigation start to the first frame with
  every example's card and thumbnail painted (target: under 1 s, like the render).
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.server.browser_util import STATIC_INDEX, Server, chromium  # noqa: E402

FRAME_PROBE = """
() => {
  const w = window.__bench = { intervals: [], lastRaf: null, on: true };
  const loop = (t) => {
    if (!w.on) return;
    if (w.lastRaf !== null) w.intervals.push(t - w.lastRaf);
    w.lastRaf = t;
    requestAnimationFrame(loop);
  };
  requestAnimationFrame(loop);
}
"""

TRACE_CATEGORIES = ["devtools.timeline", "disabled-by-default-devtools.timeline.frame", "toplevel", "blink.user_timing"]


def busy_per_frame(trace: bytes) -> tuple[list[float], list[float]]:
    """Per frame of the trace: milliseconds the renderer's main thread spent running tasks (wall clock), and
    the CPU time of those tasks (thread clock: what a loaded machine's scheduler does not inflate)."""
    ev = json.loads(trace)["traceEvents"]
    mains = {(e["pid"], e["tid"]) for e in ev if e.get("name") == "thread_name" and e["args"].get("name") == "CrRendererMain"}
    frames_by = {m: sorted(e["ts"] for e in ev if (e.get("pid"), e.get("tid")) == m and e.get("name") == "BeginMainThreadFrame")
                 for m in mains}
    main = max(frames_by, key=lambda m: len(frames_by[m]))  # the page's renderer (not an empty one)
    starts = frames_by[main]
    tasks = sorted((e["ts"], e["ts"] + e.get("dur", 0), e.get("tdur", e.get("dur", 0))) for e in ev
                   if (e.get("pid"), e.get("tid")) == main and e.get("ph") == "X"
                   and e.get("name") == "ThreadControllerImpl::RunTask")
    merged: list[list[float]] = []
    for a, b, cpu in tasks:  # nested tasks count once
        if merged and a <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], b)
        else:
            merged.append([a, b, cpu])
    wall, cpu = [], []
    for f0, f1 in zip(starts, starts[1:]):
        w = c = 0.0
        for a, b, tc in merged:
            if a < f1 and b > f0:
                share = (min(b, f1) - max(a, f0)) / (b - a) if b > a else 1.0
                w += min(b, f1) - max(a, f0)
                c += tc * share
        wall.append(w / 1000.0)
        cpu.append(c / 1000.0)
    return wall, cpu


def workflow(n: int) -> dict:
    """n nodes: chains of one Dataset Reader and Row Sampling nodes, laid out in a grid."""
    nodes, conns = [], []
    per_chain = 10
    for i in range(n):
        chain, k = divmod(i, per_chain)
        nid = f"n{i}"
        if k == 0:
            nodes.append({"id": nid, "type": "deepnodes.data.DatasetReader", "label": f"Reader {chain}",
                          "position": [0, chain * 130], "config": {"dataset": "digits", "limit": 10}})
        else:
            nodes.append({"id": nid, "type": "deepnodes.data.RowSampling", "label": f"Sample {chain}.{k}",
                          "position": [k * 170, chain * 130], "config": {"method": "top", "count": 5}})
            if i < n - 1:  # the last node's input stays free: the edge-drawing measure connects it
                conns.append({"source": f"n{i - 1}", "source_port": "table", "target": nid, "target_port": "table"})
    return {"format": "deepnodes.workflow/1", "name": f"{n} nodes", "nodes": nodes, "connections": conns}


EDGE_PROBE = """
() => {
  const w = window.__edge = { up: null, shown: null };
  window.addEventListener("mouseup", () => { w.up = performance.now(); }, { capture: true, once: true });
  const before = document.querySelectorAll(".react-flow__edge").length;
  const obs = new MutationObserver(() => {
    if (w.shown === null && document.querySelectorAll(".react-flow__edge").length > before) {
      w.shown = performance.now();
      obs.disconnect();
    }
  });
  obs.observe(document.querySelector(".react-flow"), { childList: true, subtree: true });
}
"""


def draw_edge(page, source: str, target: str, moves: int = 60) -> dict:
    """Draw a connection from `source`'s output to `target`'s input with the mouse while tracing: the work
    per frame while the connection line follows the mouse, and mouse-up -> edge in the DOM."""
    def handle(nid: str, kind: str) -> tuple[float, float]:
        b = page.locator(f'.react-flow__node[data-id="{nid}"] .react-flow__handle.{kind}').first.bounding_box()
        return b["x"] + b["width"] / 2, b["y"] + b["height"] / 2

    (x0, y0), (x1, y1) = handle(source, "source"), handle(target, "target")
    page.evaluate(EDGE_PROBE)
    page.mouse.move(x0, y0)
    page.context.browser.start_tracing(page=page, categories=TRACE_CATEGORIES)
    page.mouse.down()
    for i in range(1, moves + 1):  # a detour, so the line is drawn across the canvas before it lands
        t = i / moves
        page.mouse.move(x0 + (x1 - x0) * t, y0 + (y1 - y0) * t - 160 * (1 - abs(2 * t - 1)))
        page.wait_for_timeout(16)
    page.mouse.move(x1, y1)
    page.mouse.up()
    page.wait_for_function("() => window.__edge.shown !== null", timeout=30_000)
    frames, cpu = busy_per_frame(page.context.browser.stop_tracing())
    e = page.evaluate("() => window.__edge")
    return {"frames": frames, "cpu": cpu, "latency": e["shown"] - e["up"]}


def start_page(browser, url: str, runs: int) -> list[float]:
    """Navigation start -> the start page's cards painted, in fresh tabs (nothing to reopen)."""
    out = []
    for _ in range(runs):
        ctx = browser.new_context(viewport={"width": 1400, "height": 860})
        page = ctx.new_page()
        page.goto(url)
        page.wait_for_function("() => window.__dn && window.__dn.startPage", timeout=60_000)
        assert page.locator(".dn-card svg rect").count() > 0
        out.append(page.evaluate("() => window.__dn.startPage"))
        if len(out) == runs:
            page.screenshot(path=str(ROOT / "test-artifacts" / "bench-editor-start-page.png"))
        ctx.close()
    return out


def main_thread_cpu(trace: bytes, start_mark: str | None = None, end_mark: str | None = None) -> float:
    """CPU milliseconds of the tasks on the page's main thread in the trace (between two performance marks)."""
    ev = json.loads(trace)["traceEvents"]
    t0, t1 = float("-inf"), float("inf")
    for e in ev:
        if start_mark and e.get("name") == start_mark:
            t0 = e["ts"]
        if end_mark and e.get("name") == end_mark:
            t1 = e["ts"]
    mains = {(e["pid"], e["tid"]) for e in ev if e.get("name") == "thread_name" and e["args"].get("name") == "CrRendererMain"}
    per = {m: [] for m in mains}
    for e in ev:
        k = (e.get("pid"), e.get("tid"))
        if k in per and e.get("ph") == "X" and e.get("name") == "ThreadControllerImpl::RunTask":
            per[k].append((e["ts"], e["ts"] + e.get("dur", 0), e.get("tdur", e.get("dur", 0))))
    best = 0.0
    for tasks in per.values():
        tasks.sort()
        total, end = 0.0, -1.0
        for a, b, c in tasks:  # outermost tasks only; a task cut by a mark counts in proportion
            if a >= end:
                end = b
                if b <= t0 or a >= t1:
                    continue
                share = (min(b, t1) - max(a, t0)) / (b - a) if b > a else 1.0
                total += c * share
        best = max(best, total)
    return best / 1000.0


def pct(xs: list[float], p: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--nodes", type=int, default=200)
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    if not STATIC_INDEX.is_file():
        print("the editor is not built: run `make web` first", file=sys.stderr)
        return 2
    ws = Path(tempfile.mkdtemp(prefix="deepnodes-bench-"))
    (ws / "big.json").write_text(json.dumps(workflow(args.nodes)))
    server = Server(ws).start()
    try:
        with chromium(viewport=(1400, 860)) as ctx:
            page = ctx.new_page()
            renders, loads, cpus, render_cpus = [], [], [], []
            for _ in range(args.runs):
                ctx.browser.start_tracing(page=page, categories=TRACE_CATEGORIES)
                page.goto(server.url + "&open=big.json")
                page.wait_for_function(f"() => window.__dn && window.__dn.rendered && window.__dn.rendered.nodes >= {args.nodes}",
                                       timeout=60_000)
                r = page.evaluate("() => ({ loaded: window.__dn.docLoaded, rendered: window.__dn.rendered.t })")
                trace = ctx.browser.stop_tracing()
                cpus.append(main_thread_cpu(trace))
                render_cpus.append(main_thread_cpu(trace, "deepnodes:doc-loaded", "deepnodes:rendered"))
                renders.append(r["rendered"] - r["loaded"])
                loads.append(r["rendered"])
                count = page.locator(".react-flow__node").count()
                assert count == args.nodes, count
            page.screenshot(path=str(ROOT / "test-artifacts" / "bench-editor-200.png"))

            # drag a node in the middle of the canvas
            nid = f"n{(args.nodes // 2) - (args.nodes // 2) % 10 + 5}"
            box = page.locator(f'.react-flow__node[data-id="{nid}"] .dn-node-box').bounding_box()
            x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
            page.evaluate(FRAME_PROBE)
            page.wait_for_timeout(300)
            page.evaluate("() => { window.__bench.intervals = []; }")
            page.mouse.move(x, y)
            browser = ctx.browser
            browser.start_tracing(page=page, categories=TRACE_CATEGORIES)
            page.mouse.down()
            t0 = time.perf_counter()
            moves = 120
            for i in range(1, moves + 1):
                page.mouse.move(x + 300 * i / moves, y + 120 * i / moves)
                page.wait_for_timeout(16)
            page.mouse.up()
            seconds = time.perf_counter() - t0
            frames, cpu = busy_per_frame(browser.stop_tracing())
            page.wait_for_timeout(300)
            b = page.evaluate("() => { window.__bench.on = false; return window.__bench; }")
            moved = page.evaluate(f"() => window.__dn.doc.workflow.nodes.find(n => n.id === '{nid}').position")
            edge = draw_edge(page, f"n{args.nodes - 2}", f"n{args.nodes - 1}")
            edges_now = page.locator(".react-flow__edge").count()
            starts = start_page(ctx.browser, server.url, args.runs)
    finally:
        server.stop()
    intervals = b["intervals"]
    print(f"editor benchmark: {args.nodes}-node workflow, headless Chromium, {args.runs} loads")
    print(f"render (workflow JSON arrived -> {args.nodes} nodes painted): "
          f"median {statistics.median(renders):7.1f} ms  best {min(renders):7.1f} ms  (target < 1000 ms)")
    print(f"page load to painted (bundle, catalogue, workflow):       "
          f"median {statistics.median(loads):7.1f} ms  best {min(loads):7.1f} ms")
    print(f"  main-thread CPU of that render:                           "
          f"median {statistics.median(render_cpus):7.1f} ms  best {min(render_cpus):7.1f} ms  (target < 1000 ms)")
    print(f"main-thread CPU, navigation to painted (whole page load): median {statistics.median(cpus):7.1f} ms")
    print(f"drag of node {nid}: {moves} mouse moves in {seconds:.2f} s, {len(frames)} frames traced; "
          f"node saved at {moved}")
    print(f"  main-thread work per frame:  median {statistics.median(frames):5.2f} ms  p95 {pct(frames, 95):5.2f} ms  "
          f"max {max(frames):5.2f} ms  (target < 16 ms)")
    print(f"  main-thread CPU per frame:   median {statistics.median(cpu):5.2f} ms  p95 {pct(cpu, 95):5.2f} ms  "
          f"max {max(cpu):5.2f} ms  (target < 16 ms)")
    print(f"  frames over 16 ms: wall {sum(f > 16 for f in frames)}, CPU {sum(f > 16 for f in cpu)} of {len(frames)}")
    print(f"  requestAnimationFrame interval:  median {statistics.median(intervals):5.2f} ms  "
          f"p95 {pct(intervals, 95):5.2f} ms  max {max(intervals):5.2f} ms")
    ef, ec = edge["frames"], edge["cpu"]
    print(f"edge drawing: a connection drawn across the canvas, {len(ef)} frames traced; {edges_now} edges drawn after it")
    print(f"  main-thread work per frame:  median {statistics.median(ef):5.2f} ms  p95 {pct(ef, 95):5.2f} ms  "
          f"max {max(ef):5.2f} ms  (target < 16 ms)")
    print(f"  main-thread CPU per frame:   median {statistics.median(ec):5.2f} ms  p95 {pct(ec, 95):5.2f} ms  "
          f"max {max(ec):5.2f} ms  (target < 16 ms)")
    print(f"  mouse released -> new edge on screen (server round trip included): {edge['latency']:.1f} ms")
    print(f"start page (navigation -> example cards painted, fresh tab): "
          f"median {statistics.median(starts):7.1f} ms  best {min(starts):7.1f} ms  (target < 1000 ms)")
    import os

    print(f"machine load average while measuring: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    ok = (statistics.median(renders) < 1000 and statistics.median(render_cpus) < 1000 and pct(cpu, 95) < 16
          and pct(ec, 95) < 16 and edges_now == args.nodes - args.nodes // 10 and statistics.median(starts) < 1000)
    print("targets met" if ok else "TARGETS MISSED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
