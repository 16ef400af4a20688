"""Recurrent layers: SimpleRNN, GRU, LSTM and Bidirectional, on torch's fused kernels.

Layout: sequences (T, F), steps first. Output (T, units) with return_sequences, else (units,); with
return_state the layer has extra outputs "name:1" = h (units,) and, for an LSTM, "name:2" = c (units,).
Optional inputs: initial states h (units,) and, for an LSTM, c (units,).
"""
from __future__ import annotations

from ..spec import TensorSpec, fmt_shape
from .base import INITIALIZERS, Layer, Opt, need_float, need_rank, register

CELLS = ("LSTM", "GRU", "SimpleRNN")


def _options(cell: str) -> tuple[Opt, ...]:
    acts = ("tanh", "relu") if cell == "SimpleRNN" else ("tanh",)
    opts = [Opt("units", "int", 64, "size of the hidden state", ge=1),
            Opt("activation", "str", "tanh", "activation of the state update"
                + (" ('tanh' or 'relu')" if cell == "SimpleRNN" else " (the fused kernel computes 'tanh')"),
                choices=acts),
            Opt("use_bias", "bool", True, "whether the cell has biases"),
            Opt("return_sequences", "bool", False, "output the whole sequence (T, units) instead of the last step"),
            Opt("return_state", "bool", False, "also output the final state(s): h" + (" and c" if cell == "LSTM" else "")),
            Opt("go_backwards", "bool", False, "read the sequence backwards"),
            Opt("dropout", "float", 0.0, "dropout rate on the inputs while training", ge=0, lt=1),
            Opt("recurrent_dropout", "float", 0.0, "dropout rate on the state h where it enters the recurrent "
                "kernel while training (one draw per sequence; runs step by step)", ge=0, lt=1),
            Opt("kernel_initializer", "str", "glorot_uniform", "initializer of the input weights", choices=INITIALIZERS),
            Opt("recurrent_initializer", "str", "orthogonal", "initializer of the recurrent weights",
                choices=INITIALIZERS),
            Opt("bias_initializer", "str", "zeros", "initializer of the biases", choices=INITIALIZERS),
            Opt("kernel_regularizer", "reg", None, "l1/l2 penalty on the input weights", nullable=True),
            Opt("recurrent_regularizer", "reg", None, "l1/l2 penalty on the recurrent weights", nullable=True)]
    if cell == "LSTM":
        opts.append(Opt("unit_forget_bias", "bool", True, "start the forget gate's bias at 1 (Keras default)"))
    return tuple(opts)


def _check_state(kind, spec: TensorSpec, units: int, what: str, n_dir: int = 1):
    want = units * n_dir
    if tuple(spec.shape) != (want,):
        raise ValueError(f"{kind} needs an initial state {what} of shape ({want},); it got {fmt_shape(spec.shape)} "
                         f"from {spec.name}")


def _outputs(cell, s, config, n_dir=1, merge_mode="concat"):
    u = config["units"]
    t = s.shape[0]
    width = u * n_dir if merge_mode == "concat" else u
    y = TensorSpec("", (t, width) if config["return_sequences"] else (width,), "float32")
    outs = [y]
    if config["return_state"]:
        per_dir = [TensorSpec("", (u,), "float32")] * (2 if cell == "LSTM" else 1)
        outs += per_dir * n_dir
    return outs


def _make(cell: str):
    class R(Layer):
        family = "Recurrent"
        options = _options(cell)
        input_names = ("input", "initial_h", "initial_c") if cell == "LSTM" else ("input", "initial_h")
        layout = "(T, F) -> (T, units) or (units,)"

        @classmethod
        def mask_mode(cls, config):
            return "keep" if config.get("return_sequences") else "drop"

        @staticmethod
        def compute_output_shape(input_specs, config, _cell=cell):
            s = input_specs[0]
            shape = need_rank(_cell, s, 2, "(T, F)")
            need_float(_cell, s)
            if shape[1] is None:
                raise ValueError(f"{_cell} needs a known number of features F; it got {fmt_shape(shape)} from {s.name}")
            for spec, what in zip(input_specs[1:], ("h", "c")):
                _check_state(_cell, spec, config["units"], what)
            return _outputs(_cell, s, config)

        @staticmethod
        def build(config, input_specs, _cell=cell):
            from ._modules import set_regularizers
            from ._recurrent_modules import Recurrent, init_recurrent

            m = Recurrent(_cell, input_specs[0].shape[1], config["units"], config["activation"], config["use_bias"],
                          config["return_sequences"], config["return_state"], config["go_backwards"],
                          config["dropout"], recurrent_dropout=config["recurrent_dropout"])
            init_recurrent(m, config)
            set_regularizers(m, config, {"kernel_regularizer": "rnn.weight_ih_l0",
                                         "recurrent_regularizer": "rnn.weight_hh_l0"})
            return m

    R.kind = cell
    R.__name__ = R.__qualname__ = cell
    word = {"LSTM": "a long short-term memory (LSTM)", "GRU": "a gated recurrent unit (GRU, reset_after like Keras 3)",
            "SimpleRNN": "a fully connected (Elman)"}[cell]
    R.__doc__ = (f"A recurrent layer with {word} cell, batch-first on torch's fused kernel.\n\n"
                 f"    Layout: (T, F) -> (T, units) with return_sequences, else (units,). With return_state the "
                 f"outputs 'name:1' (h){' and name:2 (c)' if cell == 'LSTM' else ''} follow. Optional inputs: the "
                 f"initial state{'s h and c' if cell == 'LSTM' else ' h'}, each (units,).")
    return register(R)


LSTM = _make("LSTM")
GRU = _make("GRU")
SimpleRNN = _make("SimpleRNN")


@register
class Bidirectional(Layer):
    """Runs a recurrent layer over the sequence forwards and backwards and merges the two results.

    Layout: (T, F) -> (T, 2·units) ('concat') or (T, units) ('sum', 'mul', 'ave'); without return_sequences
    the last step of each direction, (2·units,) or (units,). With return_state: then h (and c) of the forward
    direction, then of the backward one. Optional inputs: initial h (and c) of shape (2·units,), forward first.
    """

    kind = "Bidirectional"
    family = "Recurrent"
    options = (Opt("layer", "str", "LSTM", "the recurrent layer to run both ways", choices=CELLS),
               Opt("merge_mode", "str", "concat", "how the directions combine", choices=("concat", "sum", "mul", "ave")),
               *_options("SimpleRNN"), Opt("unit_forget_bias", "bool", True, "LSTM: start the forget gate's bias at 1"))
    input_names = ("input", "initial_h", "initial_c")

    @staticmethod
    def compute_output_shape(input_specs, config):
        s = input_specs[0]
        shape = need_rank("Bidirectional", s, 2, "(T, F)")
        need_float("Bidirectional", s)
        if shape[1] is None:
            raise ValueError(f"Bidirectional needs a known number of features F; it got {fmt_shape(shape)} from {s.name}")
        if config["layer"] != "SimpleRNN" and config["activation"] != "tanh":
            raise ValueError(f"option 'activation' of Bidirectional must be 'tanh' for {config['layer']}")
        if config["recurrent_dropout"]:
            raise ValueError("option 'recurrent_dropout' of Bidirectional is not supported yet (use it on a one-way "
                             f"{config['layer']})")
        if config["layer"] != "LSTM" and len(input_specs) > 2:
            raise ValueError(f"Bidirectional {config['layer']} takes one initial state (h); it got two")
        for spec, what in zip(input_specs[1:], ("h", "c")):
            _check_state("Bidirectional", spec, config["units"], what, 2)
        return _outputs(config["layer"], s, config, 2, config["merge_mode"])

    @staticmethod
    def build(config, input_specs):
        from ._modules import set_regularizers
        from ._recurrent_modules import Recurrent, init_recurrent

        m = Recurrent(config["layer"], input_specs[0].shape[1], config["units"], config["activation"],
                      config["use_bias"], config["return_sequences"], config["return_state"], config["go_backwards"],
                      config["dropout"], bidirectional=True, merge_mode=config["merge_mode"])
        init_recurrent(m, config)
        set_regularizers(m, config, {"kernel_regularizer": "rnn.weight_ih_l0",
                                     "recurrent_regularizer": "rnn.weight_hh_l0"})
        return m
