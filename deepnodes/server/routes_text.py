"""API routes of the text nodes' editor views: the attention heat map of a Sequence Decoder's 'attention' output,
and "try it" — a seed text or a sentence run through the network a Text Generator or Sequence Decoder was given
(the trained network at its input), without re-running the workflow.

Try it is bounded: the text's length (`TryText`), the tokens generated (`MAX_TOKENS`), one at a time per server
(a second gets 429), and a time limit (`SECONDS`: 504 after it; the decoding is bounded by the token cap). It
uses the node's own options (temperature, top-k/p, seed; method, beam width, length penalty) and never changes
what the engine holds."""
from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor, TimeoutError as FutureTimeout

from fastapi import FastAPI

from deepnodes.core import NodeError

from .bodies import TryText
from .session import Documents, EditError

MAX_TOKENS = 400
SECONDS = 20.0
TRY_TYPES = ("deepnodes.text.TextGenerator", "deepnodes.text.SequenceDecoder")
_busy = threading.Semaphore(1)
_pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="deepnodes-try")


def _input(doc, nid: str, port: str):
    ups = doc.workflow.upstream(nid)
    if port not in ups:
        return None
    src, sport = ups[port]
    st = doc.engine.status.get(src)
    return doc.engine.output(src, sport) if st is not None and st.outputs is not None else None


def _generate(node, net, vocab, text: str, length: int | None) -> str:
    from deepnodes.dl.decode import generate

    c = node.config
    out, _ = generate(net, vocab, [text], min(length or c.length, MAX_TOKENS), c.temperature, c.top_k, c.seed,
                      top_p=c.top_p)
    return out[0]


def _translate(node, net, tgt_vocab, src_vocab, text: str) -> str:
    from deepnodes.dl.decode import translate
    from deepnodes.dl.graph_runner import GraphRunner
    from deepnodes.nodes.text._common import network_dictionary
    from deepnodes.nodes.text.generate import encode_sources

    c = node.config
    runner = GraphRunner(net, c.decoder_input or None)
    source = runner.static_inputs[0] if len(runner.static_inputs) == 1 else None
    src_vocab = network_dictionary(src_vocab, net, "source_dictionary", "source", source)
    src, _ = encode_sources(src_vocab, [text], c.add_start, c.add_end)
    return translate(runner, src, tgt_vocab, c.method, c.beam_width, min(c.max_length, MAX_TOKENS),
                     c.length_penalty, 1, c.padding)[0]


def try_text(doc, nid: str, text: str, length: int | None = None) -> dict:
    """What the try-it box shows: the generated continuation or the translation of `text`."""
    from deepnodes.dl.graph_runner import DecodeError
    from deepnodes.nodes.text._common import network_dictionary

    entry = doc.workflow._node(nid)
    if entry.type not in TRY_TYPES:
        raise EditError(f"node '{nid}' is not a Text Generator or a Sequence-to-Sequence Decoder; try it works on "
                        "those", status=400)
    net = _input(doc, nid, "network")
    if net is None:
        raise EditError(f"node '{nid}' has no trained network at its input 'network' yet; execute the node that "
                        "trains it (or the whole workflow) first", status=409)
    node = doc.workflow.instantiate(nid)
    generator = entry.type == TRY_TYPES[0]
    t0 = time.perf_counter()
    try:
        if generator:
            vocab = network_dictionary(_input(doc, nid, "dictionary"), net)
            out = _generate(node, net, vocab, text, length)
        else:
            tgt = network_dictionary(_input(doc, nid, "target_dictionary"), net, "target_dictionary")
            out = _translate(node, net, tgt, _input(doc, nid, "source_dictionary"), text)
    except (DecodeError, NodeError) as e:
        raise EditError(str(e), status=400) from None
    return {"node": nid, "input": text, "output": out, "kind": "generated" if generator else "translation",
            "seconds": round(time.perf_counter() - t0, 3)}


def add_routes(app: FastAPI, docs: Documents) -> None:
    @app.post("/api/docs/{doc_id}/nodes/{nid}/try")
    def try_it(doc_id: str, nid: str, body: TryText):
        doc = docs.get(doc_id)
        if not _busy.acquire(blocking=False):
            raise EditError("another try-it request is running; try again when it has finished", status=429)
        try:
            fut = _pool.submit(try_text, doc, nid, body.text, body.length)
        except BaseException:
            _busy.release()
            raise
        fut.add_done_callback(lambda _f: _busy.release())  # busy until the network has really finished
        try:
            return fut.result(timeout=SECONDS)
        except FutureTimeout:
            raise EditError(f"the network took longer than {SECONDS:.0f} s; try a shorter text or fewer tokens",
                            status=504) from None

    @app.get("/api/docs/{doc_id}/nodes/{nid}/ports/{port}/attention")
    def view_attention(doc_id: str, nid: str, port: str):
        from deepnodes.dl.attention_maps import from_table, is_attention_table

        doc = docs.get(doc_id)
        doc.workflow._node(nid)
        st = doc.engine.status.get(nid)
        if st is None or st.outputs is None:
            raise EditError(f"node '{nid}' has not been executed; execute it to see its attention", status=409)
        names = [p.name for p in doc.workflow.instantiate(nid).outputs]
        if port not in names:
            raise EditError(f"node '{nid}' has no output port '{port}' (its ports: {', '.join(names)})", status=404)
        obj = st.outputs[names.index(port)]
        if not is_attention_table(obj):
            raise EditError(f"port '{port}' of node '{nid}' holds no attention maps", status=400)
        return {"kind": "attention", **from_table(obj)}
