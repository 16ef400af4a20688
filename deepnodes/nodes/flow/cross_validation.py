"""Cross-Validation: runs a body once per fold with (training rows, held-out rows); KNIME's X-Partitioner /
X-Aggregator in one node. The body has Component Inputs 'training' and 'held_out' and a Component Output
'predictions' (tables); every iteration is an ordinary run of the body, configured and cached by its keys."""
from __future__ import annotations

from typing import Literal

from pydantic import Field

from deepnodes.core import In, NodeError, Out, node
from deepnodes.core import limits
from deepnodes.core.component import configure_body, feed_key, run_body
from deepnodes.table import ColumnSpec, TableSpec

from .component import BodyNode, BodyOptions
from .iterations import concat_with_column, finish, numeric, run_loop

_NEEDS = "Component Inputs 'training' and 'held_out' and a Component Output 'predictions', all of type table"
SUMMARY_SPEC = TableSpec((ColumnSpec("result", "string", "string"), ColumnSpec("mean", "number", "double"),
                          ColumnSpec("std", "number", "double"), ColumnSpec("folds", "integer", "int64")))


@node("deepnodes.flow.CrossValidation", name="Cross-Validation", category="Flow/Loops")
class CrossValidation(BodyNode):
    """k-fold cross-validation of a body (random or stratified folds, seeded; or leave-one-out on small
    data). Collects the body's predictions on each fold's held-out rows into one table with a fold column,
    each fold's scalar results (accuracy...) in a table, and their mean and standard deviation. Shows fold
    k of n; a cancel ends after the current fold and keeps the finished ones."""
    inputs = [In("table", "table", "the rows to split into folds")]
    outputs = [Out("predictions", "table", "the body's predictions on every fold's held-out rows, with a fold column"),
               Out("fold_results", "table", "one row per fold: the body's scalar results"),
               Out("summary", "table", "mean and standard deviation of each scalar result over the folds")]

    class Config(BodyOptions):
        folds: int = Field(5, ge=2, le=limits.ROWS, description="number of folds (k)")
        method: Literal["stratified", "random", "leave_one_out"] = Field(
            "stratified", description="stratified by the class column, random, or leave one row out")
        class_column: str = Field("label", description="the class column of stratified folds")
        seed: int = Field(0, ge=0, le=limits.SEED, description="random seed of the fold assignment")
        fold_column: str = Field("fold", description="name of the fold number column added to the predictions")

    def _check_body(self):
        body = self.checked_body()
        ins = {name: t for _, name, t in body.inputs}
        outs = {name: t for _, name, t in body.outputs}
        if ins.get("training") != "table" or ins.get("held_out") != "table" or outs.get("predictions") != "table":
            have = ", ".join(sorted(ins)) or "no inputs"
            raise NodeError(f"its body needs {_NEEDS}; it has {have} and outputs "
                            f"{', '.join(sorted(outs)) or 'none'}")
        return body

    def configure(self, specs):
        body = self._check_body()
        spec = specs[0]
        if spec is not None and self.config.method == "stratified":
            spec.column(self.config.class_column, self.label, "class_column")
        outs, self._signature = configure_body(body, {"training": spec, "held_out": spec}, self.label)
        pred = outs.get("predictions")
        if pred is not None:
            pred = pred.with_columns([ColumnSpec(self.config.fold_column, "integer", "int64")])
        return [pred, None, SUMMARY_SPEC]

    def execute(self, inputs, ctx):
        import pyarrow as pa

        from deepnodes.table.folds import FoldError, fold_indices
        from deepnodes.table.io import TABLE_IO

        c, body, table = self.config, self._check_body(), inputs[0]
        try:  # before any fold runs
            folds = fold_indices(table, c.folds, c.method, c.seed, c.class_column)
        except FoldError as e:
            raise NodeError(f"{e}") from None
        base = (ctx.input_keys.get("table", "-"), c.method, len(folds), c.seed, c.class_column)

        def fold(k):
            train_idx, held_idx = folds[k]
            train, held = table.take(pa.array(train_idx)), table.take(pa.array(held_idx))
            spec = TABLE_IO.spec_of(train)
            feeds = {"training": (spec, feed_key(*base, k, "training"), train),
                     "held_out": (spec, feed_key(*base, k, "held_out"), held)}
            outs, scalars, _ = run_body(body, feeds, ctx, self.label, cancel_inside=False)
            numbers = numeric(scalars)
            ctx.log(f"fold {k + 1} of {len(folds)}: " + ", ".join(f"{n} {v:.4g}" for n, v in numbers.items()))
            return outs["predictions"], {c.fold_column: k + 1, **numbers}
        done, complete = run_loop(ctx, len(folds), "fold", fold)
        preds = concat_with_column([p for p, _ in done], c.fold_column, [r[c.fold_column] for _, r in done])
        return finish(self._collect(preds, [r for _, r in done], ctx), complete)

    def _collect(self, preds, rows, ctx):
        import numpy as np
        import pyarrow as pa

        names = [n for n in rows[0] if n != self.config.fold_column]
        per_fold = pa.table({self.config.fold_column: pa.array([r[self.config.fold_column] for r in rows], pa.int64()),
                             **{n: pa.array([r.get(n) for r in rows], pa.float64()) for n in names}})
        means, stds = [], []
        for n in names:
            v = np.array([r[n] for r in rows if n in r], dtype=float)
            means.append(float(v.mean()))
            stds.append(float(v.std(ddof=1)) if len(v) > 1 else 0.0)
            ctx.result(f"{n} mean", means[-1])
            ctx.result(f"{n} std", stds[-1])
        summary = pa.table({"result": pa.array(names, pa.string()), "mean": pa.array(means, pa.float64()),
                            "std": pa.array(stds, pa.float64()), "folds": pa.array([len(rows)] * len(names), pa.int64())})
        return [preds, per_fold, summary]
