"""The attention heat map as a PNG (pillow only): one panel per map of an attention table (rows: the target
steps, columns: the source tokens; a Transformer's panels in a grid of layers x heads). `deepnodes run --report`
writes one beside the report for each attention output and links it there."""
from __future__ import annotations

import io
import re
from pathlib import Path

import numpy as np

# a few stops of the viridis colour map (0 = dark violet, 1 = yellow): equal steps look equal
_STOPS = np.array([[68, 1, 84], [59, 82, 139], [33, 145, 140], [94, 201, 98], [253, 231, 37]], np.float32)


def colours(w: np.ndarray) -> np.ndarray:
    """(T, S) weights in [0, 1] -> (T, S, 3) uint8 colours."""
    x = np.clip(np.nan_to_num(w.astype(np.float32)), 0, 1) * (len(_STOPS) - 1)
    i = np.minimum(x.astype(int), len(_STOPS) - 2)
    f = (x - i)[..., None]
    return (_STOPS[i] * (1 - f) + _STOPS[i + 1] * f).round().astype(np.uint8)


def scaled(w) -> np.ndarray:
    """A map's weights over its largest one, so that a spread-out map still shows where it looks (the colour
    scale runs from 0 to the map's largest weight, in the PNG and in the editor)."""
    w = np.asarray(w, np.float32)
    return w / max(float(w.max()) if w.size else 0.0, 1e-9)


def _label(tok: str) -> str:
    return tok.replace("\u2581", "_")[:14]  # sentencepiece's word-start mark, drawn by every font


def _font():
    from PIL import ImageFont

    try:  # a font with the umlauts and accents of the examples' languages, where the system has one
        return ImageFont.truetype("DejaVuSans.ttf", 11)
    except OSError:
        return ImageFont.load_default(size=11)


def layout(view: dict, font) -> dict:
    """Where things go: cell size, the heat map's offset in a panel, panel size, and each map's panel origin."""
    src, tgt = [_label(t) for t in view["source"]], [_label(t) for t in view["target"]]
    cell = int(np.clip(420 / max(len(src), len(tgt), 1), 6, 18))
    left = int(max(font.getlength(t) for t in tgt)) + 8
    top = int(max(font.getlength(t) for t in src)) + 24
    pw, ph = left + cell * len(src) + 12, top + cell * len(tgt) + 8
    layers = list(dict.fromkeys(m["layer"] for m in view["maps"]))
    origins, seen = [], {}
    for m in view["maps"]:
        c = seen[m["layer"]] = seen.get(m["layer"], -1) + 1
        origins.append((c * pw, layers.index(m["layer"]) * ph))
    size = (pw * (max(seen.values()) + 1), ph * len(layers))
    return {"cell": cell, "left": left, "top": top, "origins": origins, "size": size, "src": src, "tgt": tgt}


def render(view: dict) -> bytes:
    """PNG bytes of `attention_maps.from_table(...)`; one panel per map."""
    from PIL import Image, ImageDraw

    maps = view["maps"]
    if not maps:
        raise ValueError("the attention table has no maps (the network has no decoder-to-encoder attention, or "
                         "option 'attention_row' is empty)")
    font = _font()
    lay = layout(view, font)
    cell, left, top, src, tgt = lay["cell"], lay["left"], lay["top"], lay["src"], lay["tgt"]
    img = Image.new("RGB", lay["size"], "white")
    draw = ImageDraw.Draw(img)
    for m, (x0, y0) in zip(maps, lay["origins"]):
        top_w = float(np.max(m["weights"])) if np.size(m["weights"]) else 0.0
        title = m["layer"] + (f" head {m['head']}" if m["head"] >= 0 else "") + f" (yellow = {top_w:.2f})"
        draw.text((x0 + 4, y0 + 2), title, fill="black", font=font)
        heat = Image.fromarray(colours(scaled(m["weights"]))).resize((cell * len(src), cell * len(tgt)),
                                                                          Image.NEAREST)
        img.paste(heat, (x0 + left, y0 + top))
        for j, t in enumerate(tgt):
            w = font.getlength(t)
            draw.text((x0 + left - 4 - w, y0 + top + j * cell + (cell - 11) // 2), t, fill="black", font=font)
        for j, t in enumerate(src):  # source tokens written upwards above their columns
            w = int(font.getlength(t)) + 2
            lab = Image.new("L", (w, 13), 0)
            ImageDraw.Draw(lab).text((1, 0), t, fill=255, font=font)
            lab = lab.rotate(90, expand=True)
            img.paste(Image.new("RGB", lab.size, "black"), (x0 + left + j * cell + (cell - 13) // 2,
                                                            y0 + top - 4 - lab.size[1]), lab)
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


def write_report_images(engine, report: Path, rep: dict) -> list[str]:
    """For each node output holding an attention table: `<report stem>.<node>.<port>.png` beside the report,
    linked from the node's entry as {"images": {port: file name}}. Returns the files written."""
    from deepnodes.core.workflow import node_ports

    from .attention_maps import from_table, is_attention_table

    written = []
    for nid, entry in rep.get("nodes", {}).items():
        st = engine.status.get(nid)
        if st is None or not st.outputs:
            continue
        ports = node_ports(engine.workflow.nodes[nid])[1]
        for p, obj in zip(ports, st.outputs):
            if not is_attention_table(obj) or obj.num_rows == 0:
                continue
            path = report.with_name(re.sub(r"[^\w.-]", "_", f"{report.stem}.{nid}.{p.name}") + ".png")
            path.write_bytes(render(from_table(obj)))
            entry.setdefault("images", {})[p.name] = path.name
            written.append(str(path))
    return written
