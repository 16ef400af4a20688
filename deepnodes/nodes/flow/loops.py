"""Chunk Loop (a table's rows, a chunk at a time) and Folder Loop (each file of a folder) through a body.

Like Cross-Validation, a loop is one node holding its body (not a KNIME Loop Start / Loop End pair): every
iteration is an ordinary keyed run of the body on the inner engine. The loop node is its own Loop End: each of
the body's Component Outputs (tables) leaves the loop as one table, the iterations appended in order with an
iteration column, beside an `iterations` table of each iteration's scalar results."""
from __future__ import annotations

import fnmatch
from pathlib import Path
from typing import Literal

from pydantic import Field

from deepnodes.core import In, NodeError, Out, limits, node
from deepnodes.core.component import configure_body, feed_key, load_body, run_body

from .component import BodyNode, BodyOptions
from .iterations import column_spec_added, concat_with_column, finish, numeric, rows_table, run_loop, table_outputs

_ITERATIONS = Out("iterations", "table", "one row per iteration: its number, what it was given, the body's scalar results")
FILE_OPTION = "__file__"  # the exposed name under which a Folder Loop sets `file_option` in its body


class LoopOptions(BodyOptions):
    iteration_column: str = Field("iteration", min_length=1, description="name of the iteration number column "
                                  "added to every output table")


class LoopNode(BodyNode):
    """A loop whose outputs are its body's table outputs (appended over the iterations) and `iterations`. The
    body's Component Input named `iterated` gets each iteration's table; its other Component Inputs are the
    loop's own further inputs, given unchanged to every iteration (a trained network to apply to each file)."""
    unit = "iteration"
    iterated = ""  # the body's Component Input that gets each iteration's table
    needs = ""  # what the body must have besides its outputs, in words

    def __init__(self, config=None, label: str = ""):
        super().__init__(config, label)
        self.inputs, self.outputs = self.ports_for(self.config.model_dump(mode="json"), self.label)

    @classmethod
    def ports_for(cls, config: dict, node_id: str = "loop"):
        """The loop's own inputs, the body's further inputs and its outputs (with a body that cannot be loaded
        or lacks the iterated input, the loop's own ports: the node then shows why on configure)."""
        try:
            body = load_body(config, node_id)
        except NodeError:
            return list(cls.inputs), [_ITERATIONS]
        own = list(cls.inputs)
        names = {name for _, name, _ in body.inputs}
        extra = [In(n, t, f"to the body's '{nid}', the same in every iteration") for nid, n, t in body.inputs
                 if n != cls.iterated and n not in {p.name for p in own}]
        if cls.iterated not in names and not config.get("file_option"):
            extra = []
        return own + extra, [Out(n, "table", f"the body's '{n}' of every iteration, appended")
                             for _, n, t in body.outputs] + [_ITERATIONS]

    def _check_iterated(self, body, optional: bool = False):
        ins = {name: t for _, name, t in body.inputs}
        if ins.get(self.iterated, "table" if optional else None) != "table" or \
                any(p.name in ins for p in type(self).inputs):
            raise NodeError(f"its body needs {self.needs} (its other Component Inputs become the loop's inputs); "
                            f"it has {', '.join(f'{n} ({t})' for n, t in ins.items()) or 'no inputs'}")
        return body

    def _constant(self, specs: list) -> dict:
        """Input specs of the loop's further inputs by the body's port name (configure)."""
        n = len(type(self).inputs)
        return {p.name: s for p, s in zip(self.inputs[n:], specs[n:])}

    def _constant_feeds(self, inputs: list, ctx) -> dict:
        """The loop's further inputs as body feeds, the same object and key in every iteration."""
        from deepnodes.core.ports import PORT_TYPES

        n = len(type(self).inputs)
        return {p.name: (PORT_TYPES[p.type].io.spec_of(x) if x is not None else None,
                         ctx.input_keys.get(p.name, "-"), x) for p, x in zip(self.inputs[n:], inputs[n:])}

    def _configure_outputs(self, body, feeds: dict) -> list:
        names = table_outputs(body, self.needs)
        outs, self._signature = configure_body(body, feeds, self.label)
        col = self.config.iteration_column
        return [column_spec_added(outs.get(n), col, n) for n in names] + [None]

    def _run(self, ctx, n: int, step) -> list:
        """Run `step(k) -> (outputs, scalars, row)` n times; the loop's outputs (partial after a cancel)."""
        col, names = self.config.iteration_column, [p.name for p in self.outputs[:-1]]

        def one(k):
            outs, scalars, row = step(k)
            nums = numeric(scalars)
            ctx.log(f"{self.unit} {k + 1} of {n}" + "".join(f", {a} {v:.4g}" for a, v in nums.items()))
            return outs, {col: k + 1, **row}, nums
        done, complete = run_loop(ctx, n, self.unit, one)
        iters = [r[col] for _, r, _ in done]
        results = [concat_with_column([o[name] for o, _, _ in done], col, iters) for name in names]
        table = rows_table([{**r, **nums} for _, r, nums in done], first=list(done[0][1]))
        return finish(results + [table], complete)


@node("deepnodes.flow.ChunkLoop", name="Table Row / Chunk Loop", category="Flow/Loops")
class ChunkLoop(LoopNode):
    """Runs its body once per chunk of rows (`chunk_size` 1: once per row). The body's Component Input 'chunk'
    gets the chunk; each Component Output (tables) leaves the loop with the chunks' results appended and an
    iteration column. Shows iteration k of n; a cancel ends after the current chunk and keeps the finished ones."""
    inputs = [In("table", "table", "the rows to loop over")]
    iterated = "chunk"
    needs = "a Component Input 'chunk' (table)"

    class Config(LoopOptions):
        chunk_size: int = Field(1, ge=1, le=limits.ROWS, description="rows per iteration (1: one row at a time)")

    def configure(self, specs):
        body = self._check_iterated(self.checked_body())
        return self._configure_outputs(body, {"chunk": specs[0], **self._constant(specs)})

    def execute(self, inputs, ctx):
        from deepnodes.table.io import TABLE_IO

        body, table, size = self._check_iterated(self.checked_body()), inputs[0], self.config.chunk_size
        if table.num_rows == 0:
            raise NodeError("the input table has no rows, so there is nothing to loop over")
        n = -(-table.num_rows // size)
        base, constant = ctx.input_keys.get("table", "-"), self._constant_feeds(inputs, ctx)

        def step(k):
            chunk = table.slice(k * size, size)
            feeds = {"chunk": (TABLE_IO.spec_of(chunk), feed_key(base, size, k), chunk), **constant}
            outs, scalars, _ = run_body(body, feeds, ctx, self.label, cancel_inside=False)
            return outs, scalars, {"rows": chunk.num_rows}
        return self._run(ctx, n, step)


@node("deepnodes.flow.FolderLoop", name="Folder Loop", category="Flow/Loops")
class FolderLoop(LoopNode):
    """Runs its body once per file of a folder ("run this over my folder of images"), in sorted order. The body's
    Component Input 'file' (if it has one) gets a one-row table: the file's `path`, `name` and, with content
    'image', its bytes as an image column `image`; `file_option` sets a body option (a reader's path) to the
    file. Each Component Output (tables) leaves the loop with the files' results appended and an iteration column."""
    inputs = []
    iterated = "file"
    needs = "a Component Input 'file' (table) or option 'file_option'"
    unit = "file"

    class Config(LoopOptions):
        path: str = Field("", description="the folder whose files are looped over", json_schema_extra={"x-path": "folder"})
        pattern: str = Field("*", min_length=1, description="file names to take, as a glob ('*.png'; several "
                             "separated by ';'), matched against names in the folder only",
                             json_schema_extra={"x-path": False})
        recursive: bool = Field(False, description="also take the files of subfolders")
        content: Literal["image", "path"] = Field("image", description="what the body's 'file' input holds "
                                                  "besides path and name: the file's bytes as an image, or nothing")
        file_option: str = Field("", description="a body option set to each file's path, as node.option "
                                 "(e.g. 'reader.path'); empty: none", json_schema_extra={"x-path": False})

    def files(self) -> list[Path]:
        c = self.config
        if not c.path:
            raise NodeError("no folder is set; set option 'path'")
        root = Path(c.path).expanduser()
        if not root.is_dir():
            raise NodeError(f"the folder '{c.path}' (option 'path') does not exist")
        pats = [p.strip() for p in c.pattern.split(";") if p.strip()]
        found = sorted(f for f in (root.rglob("*") if c.recursive else root.iterdir())
                       if f.is_file() and not f.name.startswith(".")
                       and any(fnmatch.fnmatch(f.name, p) for p in pats))
        if not found:
            raise NodeError(f"the folder '{c.path}' (option 'path') holds no files matching '{c.pattern}' "
                            f"(option 'pattern'), so there is nothing to loop over")
        if len(found) > limits.ROWS:
            raise NodeError(f"the folder '{c.path}' holds {len(found)} matching files, more than a loop runs "
                            f"({limits.ROWS})")
        return found

    def _body_for(self, file: Path):
        """The body, with `file_option` (if set) pointing at this file."""
        cfg = self.config.model_dump(mode="json")
        if cfg["file_option"]:
            cfg["expose"] = {**cfg["expose"], FILE_OPTION: cfg["file_option"]}
            cfg[FILE_OPTION] = str(file)
        try:
            body = self.load_body(cfg)
        except NodeError as e:
            raise NodeError(str(e).replace(f"exposed option '{FILE_OPTION}'", "option 'file_option'")) from None
        return self._check_iterated(body, optional=bool(cfg["file_option"]))

    def _file_table(self, file: Path, read: bool = True):
        import pyarrow as pa

        from deepnodes.table.arrow import ROW_ID, mark

        cols = {ROW_ID: pa.array([0], pa.int64()), "path": pa.array([str(file)]), "name": pa.array([file.name])}
        fields = [pa.field(ROW_ID, pa.int64()), pa.field("path", pa.string()), pa.field("name", pa.string())]
        if self.config.content == "image":
            cols["image"] = pa.array([file.read_bytes() if read else b""], pa.binary())
            fields.append(mark(pa.field("image", pa.binary()), "image"))
        return pa.Table.from_arrays(list(cols.values()), schema=pa.schema(fields))

    def _feeds(self, body, file: Path, read: bool = True) -> dict:
        from deepnodes.table.io import TABLE_IO

        from deepnodes.nodes.data.readers import file_signature

        if not any(name == "file" for _, name, _ in body.inputs):
            return {}
        t = self._file_table(file, read)
        return {"file": (TABLE_IO.spec_of(t), feed_key(self.config.content, file_signature(str(file))),
                         t if read else None)}

    def configure(self, specs):
        first = self.files()[0]
        body = self._body_for(first)
        feeds = {k: v[0] for k, v in self._feeds(body, first, read=False).items()}
        return self._configure_outputs(body, {**feeds, **self._constant(specs)})

    def signature_extra(self) -> str:
        from deepnodes.nodes.data.readers import file_signature

        # the folder's matching files (names, sizes, times): a new, changed or removed file changes the key
        return self._signature + ";".join(file_signature(str(f)) for f in self.files())

    def execute(self, inputs, ctx):
        files, constant = self.files(), self._constant_feeds(inputs, ctx)

        def step(k):
            body = self._body_for(files[k])
            feeds = {**self._feeds(body, files[k]), **constant}
            outs, scalars, _ = run_body(body, feeds, ctx, self.label, cancel_inside=False)
            return outs, scalars, {"path": str(files[k])}
        return self._run(ctx, len(files), step)
