"""Port views for the editor: tables (paged, thumbnails), networks (layers, shapes, parameters), scorers
(confusion matrix) — all JSON, computed from what the engine holds. Nothing here executes a node."""
from __future__ import annotations

import base64
import io
import math
from typing import Any

THUMB = 56  # thumbnail edge in pixels
MAX_PAGE = 200


def _png_data_url(img) -> str:
    """An (H, W), (H, W, C) or (C, H, W) array as a small PNG data URL."""
    import numpy as np
    from PIL import Image

    a = np.asarray(img)
    if a.ndim == 3 and a.shape[0] in (1, 3, 4) and a.shape[-1] not in (1, 3, 4):
        a = np.moveaxis(a, 0, -1)
    if a.ndim == 3 and a.shape[-1] == 1:
        a = a[..., 0]
    if a.dtype != np.uint8:
        a = a.astype(np.float32)
        lo, hi = float(np.nanmin(a)), float(np.nanmax(a))
        a = np.nan_to_num((a - lo) / (hi - lo) * 255 if hi > lo else a * 0)
        a = a.clip(0, 255).astype(np.uint8)
    im = Image.fromarray(a)
    im.thumbnail((THUMB, THUMB))
    if im.size[0] < THUMB // 2:  # enlarge tiny images (28×28) with sharp pixels
        f = THUMB // max(im.size)
        if f > 1:
            im = im.resize((im.size[0] * f, im.size[1] * f), Image.NEAREST)
    buf = io.BytesIO()
    im.save(buf, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


def _looks_like_image(shape: tuple) -> bool:
    if len(shape) == 2:
        return shape[0] >= 8 and shape[1] >= 8
    if len(shape) == 3:
        c_first = shape[0] in (1, 3, 4) and shape[1] >= 8 and shape[2] >= 8
        c_last = shape[2] in (1, 3, 4) and shape[0] >= 8 and shape[1] >= 8
        return c_first or c_last
    return False


def _num(v: Any) -> Any:
    if isinstance(v, float) and (math.isnan(v) or math.isinf(v)):
        return str(v)
    return v


def _tensor_summary(a) -> str:
    import numpy as np

    shape = "×".join(str(d) for d in a.shape)
    if a.size == 0:
        return f"{shape} {a.dtype}"
    if a.size <= 6:
        vals = ", ".join(f"{x:.4g}" for x in np.asarray(a, dtype=np.float64).ravel())
        return f"[{vals}]"
    f = np.asarray(a, dtype=np.float64)
    return f"{shape} {a.dtype} · min {np.nanmin(f):.3g} · max {np.nanmax(f):.3g} · mean {np.nanmean(f):.3g}"


SORTABLE = ("number", "integer", "boolean", "string", "category")


def sorted_page(table, spec, offset: int, limit: int, sort: str = "", descending: bool = False):
    """Rows offset..offset+limit of `table`, in the order of column `sort` (empty: as stored; missing values
    last), and the rows' positions in the stored table. A column that cannot be ordered (tensor, image,
    token sequence) is refused naming it."""
    if not sort:
        page = table.slice(offset, limit)
        return page, list(range(offset, offset + page.num_rows))
    import pyarrow.compute as pc

    kinds = {c.name: c.kind for c in spec.columns}
    if sort not in kinds:
        raise ValueError(f"the table has no column '{sort[:200]}' to sort by")
    if kinds[sort] not in SORTABLE:
        raise ValueError(f"column '{sort}' holds {kinds[sort]} values, which have no order; sort by another column")
    col = table.column(sort)
    if hasattr(col.type, "value_type"):  # dictionary (category): order by the text
        col = col.cast(col.type.value_type)
    order = pc.array_sort_indices(col, order="descending" if descending else "ascending", null_placement="at_end")
    idx = order.slice(offset, limit)
    return table.take(idx), idx.to_pylist()


def table_view(table, offset: int = 0, limit: int = 50, sort: str = "", descending: bool = False) -> dict:
    """One page of a `pyarrow.Table` (optionally sorted by a column): column specs and rendered cells."""
    import numpy as np
    import pyarrow as pa

    from deepnodes.table.arrow import spec_of, to_numpy

    offset = max(0, int(offset))
    limit = max(1, min(int(limit), MAX_PAGE))
    spec = spec_of(table)
    page, positions = sorted_page(table, spec, offset, limit, sort, descending)
    columns = [c.to_json() for c in spec.columns]
    cells_by_col = []
    for cs, col in zip(spec.columns, page.columns):
        out = []
        if cs.kind == "tensor":
            arr = to_numpy(col) if len(col) else []
            for a in arr:
                cell = {"text": _tensor_summary(a)}
                if _looks_like_image(a.shape):
                    cell["img"] = _png_data_url(a)
                out.append(cell)
        elif cs.kind == "image":
            from PIL import Image

            for v in col.to_pylist():
                if v is None:
                    out.append(None)
                    continue
                try:
                    with Image.open(io.BytesIO(v)) as im:
                        size = f"{im.size[0]}×{im.size[1]} {im.mode}"
                        out.append({"img": _png_data_url(np.asarray(im)), "text": size})
                except Exception:  # noqa: BLE001 - a broken image is shown as such
                    out.append({"text": f"unreadable image ({len(v)} bytes)"})
        elif cs.kind == "token_sequence":
            for v in col.to_pylist():
                if v is None:
                    out.append(None)
                else:
                    head = ", ".join(str(x) for x in v[:12])
                    out.append({"text": f"[{head}{', …' if len(v) > 12 else ''}] (length {len(v)})"})
        elif pa.types.is_dictionary(col.type) or cs.kind in ("string", "category"):
            out = [None if v is None else str(v)[:500] for v in col.to_pylist()]
        elif cs.kind in ("number", "integer", "boolean"):
            out = [_num(v) for v in col.to_pylist()]
        else:
            vals = col.to_pylist()
            out = [None if v is None else (str(v)[:200]) for v in vals]
        cells_by_col.append(out)
    rows = [list(r) for r in zip(*cells_by_col)] if cells_by_col else []
    return {"kind": "table", "rows_total": table.num_rows, "offset": offset, "limit": limit,
            "sort": sort, "descending": bool(descending), "positions": positions, "columns": columns, "rows": rows}


def network_view(obj, spec=None) -> dict:
    """Layers with their output shapes and parameter counts. `obj` is a `Network`, or None before the node
    has run (then the configured spec is shown, with parameter counts of a temporary module)."""
    from deepnodes.dl.spec import fmt_shape

    spec = obj.spec if obj is not None else spec
    rows: list[dict] = []
    try:
        from deepnodes.dl.io import layer_table  # the deep-learning core's own layer table
        from deepnodes.dl.network import Network

        rows = layer_table(obj if obj is not None else Network(spec))
    except Exception:  # noqa: BLE001 - the view still shows the spec
        rows = []
    by_name = {r.get("layer"): r for r in rows}
    layers = []
    if spec.layers:
        for layer in spec.layers:
            r = by_name.get(layer.name, {})
            t, f = r.get("trainable_params"), r.get("frozen_params")
            layers.append({"name": layer.name, "kind": layer.kind, "inputs": list(layer.inputs),
                           "output_shapes": [fmt_shape(o.shape) for o in layer.outputs],
                           "params": None if t is None else t + (f or 0),
                           "trainable": layer.trainable and not (f and not t)})
    else:
        for r in rows:
            t, f = r.get("trainable_params", 0), r.get("frozen_params", 0)
            layers.append({"name": r.get("layer"), "kind": r.get("kind"), "inputs": [],
                           "output_shapes": [r.get("output_shape", "")], "params": t + f, "trainable": t > 0})
    out: dict[str, Any] = {
        "kind": "network",
        "inputs": [{"name": t.name, "shape": fmt_shape(t.shape), "dtype": t.dtype} for t in spec.inputs],
        "outputs": [{"name": t.name, "shape": fmt_shape(t.shape), "dtype": t.dtype} for t in spec.outputs],
        "layers": layers, "executed": obj is not None,
    }
    if rows:
        t = sum(r.get("trainable_params", 0) for r in rows)
        f = sum(r.get("frozen_params", 0) for r in rows)
        out.update(trainable_params=t, frozen_params=f, total_params=t + f)
    if obj is not None:
        md = getattr(obj, "metadata", {}) or {}
        out["metadata"] = {k: md[k] for k in ("seed", "class_names", "source", "stopped_early") if k in md}
        if md.get("history"):
            out["history"] = md["history"]
    return out


_PER_CLASS_HINTS = ("precision", "recall", "f1", "f1_score", "f-measure", "support", "sensitivity")


def _rows(t) -> list[list]:
    return [[_num(v) if not isinstance(v, str) else v for v in r] for r in zip(*(t.column(c).to_pylist() for c in t.column_names))]


def scorer_view(tables: list[tuple[str, Any]], scalars: dict) -> dict:
    """The confusion matrix (a square count table) and the per-class figures found among a node's outputs."""
    import pyarrow as pa

    matrix = None
    per_class = None
    others = []
    for name, t in tables:
        if t is None or not isinstance(t, pa.Table):
            continue
        cols = t.column_names
        lower = [c.lower() for c in cols]
        numeric = [c for c, f in zip(cols, t.schema) if pa.types.is_integer(f.type) or pa.types.is_floating(f.type)]
        label_cols = [c for c in cols if c not in numeric]
        is_matrix = "confusion" in name.lower() or (
            len(numeric) >= 1 and t.num_rows == len(numeric) and not any(h in lower for h in _PER_CLASS_HINTS))
        if matrix is None and is_matrix and numeric and t.num_rows <= 1000:
            labels = [str(x) for x in t.column(label_cols[0]).to_pylist()] if label_cols else numeric[:t.num_rows]
            counts = [[_num(v) for v in row] for row in zip(*(t.column(c).to_pylist() for c in numeric))]
            matrix = {"port": name, "actual": labels, "predicted": numeric, "counts": counts,
                      "label_column": label_cols[0] if label_cols else None}
        elif per_class is None and any(h in lower for h in _PER_CLASS_HINTS) and t.num_rows <= 1000:
            per_class = {"port": name, "columns": cols, "rows": _rows(t)}
        elif t.num_rows <= 20:
            others.append({"port": name, "columns": cols, "rows": _rows(t)})
    return {"kind": "scorer", "confusion_matrix": matrix, "per_class": per_class,
            "scalars": {k: _num(v) for k, v in scalars.items()}, "other_tables": others}
