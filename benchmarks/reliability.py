"""How DeepNodes answers bad input: for each class of issue 17, how many cases were tried, how many ended
cleanly, and how many did not (the table in docs/reliability.md).

    .venv/bin/python benchmarks/reliability.py [--examples 2000] [--skip models,server] [--json out.json]

A case is clean when it ends in a valid result or in one sentence: a `WorkflowError` (exit 2 from the CLI), a
node's one-line message from a user-error class (NodeError, ColumnError, ValueError and its subclasses, a
missing or unreadable file), no traceback, under 2,000 characters. Everything else is a failure: another
exception type (TypeError, KeyError, a library's own error), a message of several lines, a case that runs past
its time limit (a hang), or a worker process that dies (a crash). Generated cases come from the hypothesis
strategies the tests use (tests/core/trust_strategies.py), model files from tests/dl/trust_samples.py, server
requests from tests/server/hostile.py. Families that could crash the interpreter (model files, the server)
run in a child process.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("OMP_NUM_THREADS", "1")

from reliability_harness import CASE_SECONDS, Family  # noqa: E402  (a sibling script: run from benchmarks/)
from reliability_harness import run_generated as _generated  # noqa: E402
from reliability_harness import sentence_problem as _sentence  # noqa: E402


# ---------------------------------------------------------------------------------------------- workflow files

def _load_and_configure(data) -> str | None:
    from deepnodes.core import Workflow, WorkflowError
    from tests.core.trust_strategies import configure_is_clean

    try:
        wf = Workflow.from_json(data)
    except WorkflowError as e:
        return _sentence(str(e))
    problems = configure_is_clean(wf)
    return problems[0][:200] if problems else None


def workflow_families(n: int) -> list[Family]:
    from deepnodes.core import Workflow, WorkflowError
    from tests.core.test_trust_workflow_fuzz import CASES
    from tests.core.trust_strategies import chain_data, workflow_data

    # warm-up, untimed: the first configure of some node types imports torch or builds a catalogue (seconds on a
    # busy machine); that one-time cost is not a hang of the case that happens to come first
    from deepnodes.core import Engine, registry
    warm = Workflow("warm-up")
    for i, t in enumerate(registry.all_nodes()):
        if t.startswith("deepnodes."):
            warm.add(t, f"n{i}")
    Engine(warm).configure()

    gen, chains, fixed = Family("workflow files: generated (structure and values)"), \
        Family("workflow files: generated chains, configured on real specs"), \
        Family("workflow files: the issue's cases (UTF-8, nesting, types, ids, folder, /dev/zero)")
    _generated(workflow_data(), n, lambda d: gen.check("generated", lambda: _load_and_configure(d)))
    _generated(chain_data(), n // 2, lambda d: chains.check("chain", lambda: _load_and_configure(d)))
    with tempfile.TemporaryDirectory() as tmp:
        for name, (content, expected) in CASES.items():
            p = Path(tmp) / "w.json"
            p.write_bytes(content)

            def one(p=p, expected=expected):
                try:
                    Workflow.load(p)
                except WorkflowError as e:
                    return None if expected in str(e) else f"another sentence: {str(e)[:120]}"
                return "loaded"
            fixed.check(name, one)
        for name, args in [("a folder", [tmp]), ("/dev/zero", ["/dev/zero"]), ("a missing file", [tmp + "/no.json"]),
                           ("deep nesting (CLI)", [str(Path(tmp) / "w.json")])]:
            if name.startswith("deep"):
                (Path(tmp) / "w.json").write_bytes(CASES["deeply nested"][0])
            fixed.check(name, lambda args=args: _cli_exit_2(args))
    return [gen, chains, fixed]


def _cli_exit_2(args) -> str | None:
    r = subprocess.run([sys.executable, "-m", "deepnodes.cli", "run", *args, "--quiet"], capture_output=True,
                       text=True, timeout=CASE_SECONDS, cwd=ROOT)
    lines = r.stderr.strip().splitlines()
    if r.returncode != 2 or len(lines) != 1 or not lines[0].startswith("error: "):
        return f"exit {r.returncode}, stderr {r.stderr[-160:]!r}"
    return None


# ---------------------------------------------------------------------------------------------- --set

def set_families(n: int) -> list[Family]:
    import copy

    from deepnodes import cli
    from deepnodes.core import Workflow, WorkflowError, registry
    from tests.core.test_trust_set import EXAMPLES, SET_CASES
    from tests.core.trust_strategies import set_expressions

    gen, fixed = Family("--set: generated paths and values on 4 examples"), \
        Family("--set: the issue's cases (indices, types, 64-bit, absurd values)")
    for name in EXAMPLES:
        wf = Workflow.load(ROOT / "examples" / name)

        def one(expr, wf=wf):
            before = {k: copy.deepcopy(e.config) for k, e in wf.nodes.items()}
            try:
                node_id, path, value = cli.parse_set(expr)
                wf.set_option(node_id, path, value)
            except WorkflowError as e:
                return _sentence(str(e))
            finally:
                entry = wf.nodes.get(expr.split(".", 1)[0])
                after = copy.deepcopy(entry.config) if entry else None
                for k, cfg in before.items():
                    wf.nodes[k].config = cfg
            registry.get(entry.type).Config.model_validate(after)  # what was accepted is a valid config
            return None
        _generated(set_expressions(wf), n // len(EXAMPLES), lambda e, one=one: gen.check(e, lambda: one(e)))
    wf_path = str(ROOT / "examples" / "mnist_cnn.json")
    for expr, expected in SET_CASES:
        def one(expr=expr, expected=expected):
            import contextlib
            import io

            err = io.StringIO()
            with contextlib.redirect_stderr(err):
                code = cli.main(["run", wf_path, "--set", expr, "--quiet"])
            text = err.getvalue().strip()
            if code != 2 or expected not in text:
                return f"exit {code}: {text[:160]}"
            return _sentence(text)
        fixed.check(expr, one)
    return [gen, fixed]


# ---------------------------------------------------------------------------------------------- data

def data_families(n: int) -> list[Family]:
    import numpy as np
    import pyarrow as pa

    from deepnodes.core import Engine, Workflow
    from deepnodes.table.files import csv_schema, read_csv
    from tests.core.trust_strategies import CLEAN_ERRORS
    from tests.data import test_trust_data_input as D

    csv, tables, images = (Family("data: CSV and Parquet files (garbage, UTF-8, header only, duplicate names, damage)"),
                           Family("data: empty and one-row tables into every table node, and the Executor"),
                           Family("data: images over the 100-megapixel limit"))
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for name, (content, expected) in D.CSV_CASES.items():
            def one(content=content, expected=expected):
                (tmp / "f.csv").write_bytes(content)
                st = D._reader(tmp / "f.csv").configure()["read"]
                return None if st.state == "idle" and st.message.startswith(expected) else f"{st.state}: {st.message[:120]}"
            csv.check(name, one)
        from hypothesis import strategies as st

        from deepnodes.table.files import write_table
        iris = tmp / "iris.csv"
        rng = np.random.default_rng(0)
        write_table(pa.table({"a": rng.random(40), "b": rng.integers(0, 9, 40), "c": ["x", "y"] * 20}), iris)
        raw0 = iris.read_bytes()

        def damaged(args):
            ops, = args
            raw = bytearray(raw0)
            for op, i, b in ops:
                i = i % max(len(raw), 1)
                if op == 0 and raw:
                    raw[i] = b
                elif op == 1:
                    del raw[i:]
                else:
                    raw[i:i] = bytes([b])
            (tmp / "d.csv").write_bytes(bytes(raw))
            for step in (csv_schema, read_csv):
                try:
                    step(tmp / "d.csv")
                except ValueError as e:
                    return _sentence(str(e)) or (None if "'d.csv'" in str(e) else f"no file name: {str(e)[:100]}")
            return None
        ops = st.lists(st.tuples(st.integers(0, 2), st.integers(0, 10 ** 6), st.integers(0, 255)), min_size=1,
                       max_size=6)
        _generated(st.tuples(ops), n // 4, lambda a: csv.check("damaged csv", lambda: damaged(a)))

        from deepnodes.table.files import parquet_schema, read_parquet
        pq_path = tmp / "t.parquet"
        write_table(pa.table({"a": np.arange(100), "b": ["x", "y"] * 50}), pq_path)
        pq0 = pq_path.read_bytes()

        def damaged_parquet(args):
            cut, flips = args
            raw = bytearray(pq0)
            for i, b in flips:
                raw[i % len(raw)] ^= b
            if cut is not None:
                del raw[cut % len(raw):]
            (tmp / "d.parquet").write_bytes(bytes(raw))
            for step in (parquet_schema, read_parquet):
                try:
                    step(tmp / "d.parquet")
                except ValueError as e:
                    return _sentence(str(e)) or (None if "'d.parquet'" in str(e) else f"no file name: {str(e)[:100]}")
            return None
        pq_ops = st.tuples(st.none() | st.integers(0, 10 ** 6),
                           st.lists(st.tuples(st.integers(0, 10 ** 6), st.integers(1, 255)), max_size=4))
        _generated(pq_ops, n // 8, lambda a: csv.check("damaged parquet", lambda: damaged_parquet(a)))

        from sklearn.datasets import load_iris

        from deepnodes.core.node import ExecutionContext
        from deepnodes.core.ports import PORT_TYPES
        from deepnodes.core import registry
        import threading

        d = load_iris()
        from deepnodes.table.arrow import with_row_id
        t = with_row_id(pa.table({"sepal_length": d.data[:, 0], "sepal_width": d.data[:, 1],
                                  "species": np.array(d.target_names)[d.target]}))
        for type_id in D._table_nodes():
            cls = registry.get(type_id)
            for column in ("species", "sepal_length"):
                for rows in (0, 1):
                    def one(cls=cls, column=column, rows=rows):
                        node = cls(cls.Config.model_validate(D._config(cls, column)))
                        inputs = [t.slice(0, rows) for _ in cls.inputs]
                        try:
                            node.configure([PORT_TYPES["table"].io.spec_of(x) for x in inputs])
                            node.execute(inputs, ExecutionContext("n", lambda e: None, threading.Event()))
                        except Exception as e:  # noqa: BLE001
                            msg = str(e)
                            if type(e).__name__ not in CLEAN_ERRORS or "\n" in msg or not any(
                                    w in msg for w in ("'", "option", "column", "table", "row")):
                                return f"{type(e).__name__}: {msg[:120]}"
                        return None
                    tables.check(f"{type_id} {column} {rows} rows", one)
        for rows in (0, 1):
            def executor(rows=rows):
                eng = Engine(D._learner_workflow(rows))
                res = eng.run()
                if rows == 0:
                    msg = eng.status["exec"].message
                    return None if res.failed == ["exec"] and "is empty" in msg else f"{res}: {msg[:100]}"
                return None if res.ok else f"{res}"
            tables.check(f"executor on {rows} rows", executor)
        for type_id in ("deepnodes.data.ImageToTensor", "deepnodes.dl.PretrainedImagePreprocess"):
            for w, h in ((20_000, 20_000), (12_000, 10_000), (11_000, 11_000)):
                def one(type_id=type_id, w=w, h=h):
                    from deepnodes.table.arrow import encode_png
                    folder = tmp / f"img{w}" / "a"
                    folder.mkdir(parents=True, exist_ok=True)
                    (folder / "0.png").write_bytes(encode_png(np.zeros((8, 8), np.uint8)))
                    (folder / "1.png").write_bytes(D._png_header(w, h))
                    wf = Workflow("huge")
                    wf.add("deepnodes.data.ImageFolderReader", "read", {"path": str(folder.parent)})
                    wf.add(type_id, "prep", {"size": [8, 8]})
                    wf.connect("read", 0, "prep", "table")
                    eng = Engine(wf)
                    res = eng.run()
                    msg = eng.status["prep"].message
                    return None if res.failed == ["prep"] and "over the limit" in msg else f"{res}: {msg[:100]}"
                images.check(f"{type_id} {w}x{h}", one)
    return [csv, tables, images]


# ---------------------------------------------------------------------------------------------- model files

def model_worker(fmt: str, samples: str, out: str) -> None:
    """In a child process: damage the sample file of `fmt` (12 truncations, 12 byte flips) and read each copy the
    way the reader nodes do. Clean: it loads and runs, or a user error whose one-line message names the file."""
    import numpy as np

    from tests.core.trust_strategies import is_user_error
    from tests.dl import trust_samples as S

    fam = Family(f"model files: {fmt}")
    src = Path(samples) / S.FILES[fmt]
    raw = src.read_bytes()
    rng = np.random.default_rng(0)
    cuts = sorted({int(len(raw) * f) for f in np.linspace(0, 0.99, 12)})
    flips = sorted(rng.choice(len(raw), size=min(12, len(raw)), replace=False).tolist())
    variants = [(f"truncated at {c}", raw[:c]) for c in cuts]
    variants += [(f"byte {i} flipped", raw[:i] + bytes([raw[i] ^ 0xFF]) + raw[i + 1:]) for i in flips]
    with tempfile.TemporaryDirectory() as tmp:
        for name, data in variants:
            def one(data=data):
                p = Path(tmp) / ("damaged" + src.suffix)
                p.write_bytes(data)
                try:
                    S.use(fmt, S.read(fmt, p))
                except Exception as e:  # noqa: BLE001
                    if not is_user_error(e):
                        return f"{type(e).__name__}: {str(e)[:120]}"
                    if "damaged" not in str(e):
                        return f"the message names no file: {str(e)[:120]}"
                    return _sentence(str(e))
                return None
            fam.check(name, one)
    Path(out).write_text(json.dumps(fam.row() | {"failures_all": fam.failures}))


def model_families() -> list[Family]:
    from tests.dl.trust_samples import FORMATS

    fams = []
    with tempfile.TemporaryDirectory() as tmp:
        code = f"import sys; sys.path.insert(0, '.'); from tests.dl.trust_samples import make_samples; " \
               f"from pathlib import Path; make_samples(Path({tmp!r}))"
        made = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600, cwd=ROOT)
        for fmt in FORMATS:
            fam = Family(f"model files: {fmt} (truncated, bytes flipped)")
            out = Path(tmp) / f"{fmt}.result.json"
            r = None
            if made.returncode == 0:
                try:
                    r = subprocess.run([sys.executable, "-X", "faulthandler", __file__, "--model-worker", fmt, tmp,
                                        str(out)],
                                       capture_output=True, text=True, timeout=600, cwd=ROOT)
                except subprocess.TimeoutExpired:
                    pass
            if r is not None and r.returncode == 0 and out.exists():
                data = json.loads(out.read_text())
                fam.tried, fam.failures = data["tried"], data["failures_all"]
            else:
                where = [x.strip() for x in (r.stderr if r else "").splitlines() if x.strip().startswith("File ")]
                why = ("the samples could not be made: " + made.stderr.strip()[-200:] if made.returncode
                       else "timed out" if r is None else f"exit {r.returncode}, {' < '.join(where[:3])}")
                fam.tried, fam.failures = 24, [f"the worker process died ({why})"] * 24
            fams.append(fam)
    return fams


def server_families() -> list[Family]:
    fam = Family("server requests (hostile: tokens, NaN, nesting, stalled bodies, paths)")
    code = ("import json, sys; sys.path.insert(0, '.'); from tests.server.hostile import server_cases; "
            "n, c, f = server_cases(); print(json.dumps([n, c, f]))")
    try:
        r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=900, cwd=ROOT)
        n, clean, failures = json.loads(r.stdout.strip().splitlines()[-1])
        fam.tried, fam.failures = n, failures
    except Exception as e:  # noqa: BLE001 - the family could not run at all: say so in the table
        fam.tried, fam.failures = 1, [f"the server cases could not run: {type(e).__name__}: {e}"[:300]]
    return [fam]


def cli_families() -> list[Family]:
    fam = Family("CLI: output piped into head (nodes --json, nodes, describe)")

    def pipe(command):
        r = subprocess.run(f"{sys.executable} -m deepnodes.cli {command}", shell=True, capture_output=True, text=True,
                           timeout=CASE_SECONDS, cwd=ROOT)
        return None if r.stderr.strip() == "" else f"stderr: {r.stderr[-160:]!r}"
    for command in ("nodes --json | head -c 100", "nodes | head -1", "describe deepnodes.dl.NetworkLearner | head -1"):
        fam.check(command, lambda command=command: pipe(command))
    return [fam]


def table(rows: list[dict]) -> str:
    lines = ["| class | cases tried | clean | failures |", "|---|---:|---:|---:|"]
    for r in rows:
        lines.append(f"| {r['class']} | {r['tried']} | {r['clean']} | {r['failures']} |")
    total = {k: sum(r[k] for r in rows) for k in ("tried", "clean", "failures")}
    lines.append(f"| **all** | **{total['tried']}** | **{total['clean']}** | **{total['failures']}** |")
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--examples", type=int, default=2000, help="generated workflow files (and a share of that for "
                                                                "--set and CSV damage)")
    ap.add_argument("--skip", default="", help="comma-separated families to leave out: workflows, set, data, "
                                               "models, server, cli")
    ap.add_argument("--json", help="write the rows (with up to 5 failures each) to this file")
    ap.add_argument("--model-worker", nargs=3, help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.model_worker:
        model_worker(*a.model_worker)
        return 0
    skip = set(filter(None, a.skip.split(",")))
    t0 = time.time()
    fams: list[Family] = []
    steps = [("workflows", lambda: workflow_families(a.examples)), ("set", lambda: set_families(a.examples // 2)),
             ("data", lambda: data_families(a.examples // 2)), ("models", model_families),
             ("server", server_families), ("cli", cli_families)]
    for name, step in steps:
        if name in skip:
            continue
        t = time.time()
        try:
            fams += step()
        except Exception:  # noqa: BLE001 - a family that cannot run is reported, not hidden
            f = Family(f"{name}: could not run")
            f.tried, f.failures = 1, [traceback.format_exc(limit=2)[-300:]]
            fams.append(f)
        print(f"  {name}: {time.time() - t:.0f} s", file=sys.stderr, flush=True)
    rows = [f.row() for f in fams]
    print(table(rows))
    for r in rows:
        for ex in r["examples"]:
            print(f"  failure in {r['class']}: {ex}")
    print(f"\n{time.time() - t0:.0f} s; command: .venv/bin/python benchmarks/reliability.py --examples {a.examples}"
          + (f" --skip {a.skip}" if a.skip else ""))
    if a.json:
        Path(a.json).write_text(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
