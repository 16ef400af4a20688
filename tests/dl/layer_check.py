"""The shared layer test helper: for every kind of the catalogue, sample inputs and configs; `check_layer` infers
the output specs in pure Python, builds the torch module, runs it on random input and asserts that the real
output shapes and dtypes match the inferred ones (and that eval mode is deterministic and gradients flow).

A new layer kind gets its samples here in `SAMPLES`, or as an `examples` class attribute on its `Layer` class:
`examples = [{"inputs": [[[10, 8], "float32"], ...], "config": {...}}, ...]`. `test_every_kind_has_samples`
fails for a kind without any.
"""
from __future__ import annotations

import torch

from deepnodes.dl.layers import get_layer, load_all
from deepnodes.dl.spec import TensorSpec

F = "float32"
I = "int64"

IMG = [[3, 12, 10], F]
VOL = [[2, 6, 8, 7], F]
SEQ = [[9, 6], F]
VEC = [[8], F]

SAMPLES: dict[str, list[tuple[list, dict]]] = {
    "Input": [([], {"shape": [3, 4], "dtype": F}), ([], {"shape": [-1], "dtype": I})],
    "Dense": [([VEC], {"units": 5, "activation": "relu"}), ([SEQ], {"units": 3, "activation": "softmax",
                                                                     "use_bias": False}),
              ([VEC], {"units": 4, "kernel_regularizer": {"l2": 0.1}, "kernel_initializer": "he_normal"})],
    "Dropout": [([IMG], {"rate": 0.3})],
    "Activation": [([SEQ], {"activation": "gelu"}), ([VEC], {"activation": "softmax"}),
                   ([VEC], {"activation": "hard_sigmoid"})],
    "Flatten": [([IMG], {}), ([VOL], {})],
    "Reshape": [([VEC], {"target_shape": [2, -1]}), ([IMG], {"target_shape": [3, 120]})],
    "Permute": [([SEQ], {"dims": [2, 1]}), ([IMG], {"dims": [2, 3, 1]})],
    "RepeatVector": [([VEC], {"n": 4})],
    "Masking": [([SEQ], {"mask_value": 0.0})],
    "Conv1D": [([SEQ], {"filters": 4, "kernel_size": 3}), ([SEQ], {"filters": 2, "kernel_size": 4, "strides": 2,
                                                                   "padding": "same"})],
    "Conv2D": [([IMG], {"filters": 4, "kernel_size": 3, "activation": "relu"}),
               ([IMG], {"filters": 5, "kernel_size": [3, 2], "strides": 2, "padding": "same"}),
               ([IMG], {"filters": 2, "kernel_size": 3, "padding": "same", "dilation_rate": 2}),
               ([IMG], {"filters": 2, "kernel_size": 4, "padding": "same"})],
    "Conv3D": [([VOL], {"filters": 3, "kernel_size": 3}), ([VOL], {"filters": 2, "kernel_size": 2, "strides": 2,
                                                                   "padding": "same"})],
    "SeparableConv1D": [([SEQ], {"filters": 4, "kernel_size": 3, "depth_multiplier": 2})],
    "SeparableConv2D": [([IMG], {"filters": 4, "kernel_size": 3, "padding": "same"}),
                        ([IMG], {"filters": 4, "kernel_size": 3, "strides": 2, "depth_multiplier": 2})],
    "DepthwiseConv2D": [([IMG], {"kernel_size": 3, "depth_multiplier": 2}),
                        ([IMG], {"kernel_size": 3, "strides": 2, "padding": "same"})],
    "Conv1DTranspose": [([SEQ], {"filters": 3, "kernel_size": 3, "strides": 2})],
    "Conv2DTranspose": [([IMG], {"filters": 4, "kernel_size": 3, "strides": 2, "padding": "same"}),
                        ([IMG], {"filters": 2, "kernel_size": 3, "strides": 2}),
                        ([IMG], {"filters": 2, "kernel_size": 2, "strides": 3, "padding": "same"})],
    "Conv3DTranspose": [([VOL], {"filters": 2, "kernel_size": 3, "strides": 2, "padding": "same"})],
    "Cropping1D": [([SEQ], {"cropping": [1, 2]})],
    "Cropping2D": [([IMG], {"cropping": 1}), ([IMG], {"cropping": [[1, 2], [0, 3]]})],
    "Cropping3D": [([VOL], {"cropping": [1, 2, 1]})],
    "UpSampling1D": [([SEQ], {"size": 3})],
    "UpSampling2D": [([IMG], {"size": 2}), ([IMG], {"size": [2, 3], "interpolation": "bilinear"})],
    "UpSampling3D": [([VOL], {"size": 2})],
    "ZeroPadding1D": [([SEQ], {"padding": [2, 1]})],
    "ZeroPadding2D": [([IMG], {"padding": 1}), ([IMG], {"padding": [[1, 0], [2, 3]]})],
    "ZeroPadding3D": [([VOL], {"padding": [1, 0, 2]})],
    "BatchNormalization": [([IMG], {}), ([VEC], {}), ([SEQ], {}), ([SEQ], {"axis": 1}), ([VOL], {}),
                           ([IMG], {"axis": -1}), ([VOL], {"axis": 2, "center": False, "momentum": 0.9})],
    "LayerNormalization": [([SEQ], {}), ([IMG], {"axis": [1, 2, 3]}), ([VEC], {"center": False})],
    "Embedding": [([[[7], I]], {"input_dim": 10, "output_dim": 4}), ([[[None], I]], {"input_dim": 10, "output_dim": 3}),
                  ([[[None], I]], {"input_dim": 10, "output_dim": 3, "mask_zero": True})],
    "SimpleRNN": [([SEQ], {"units": 5}), ([SEQ], {"units": 4, "return_sequences": True, "activation": "relu"}),
                  ([SEQ, [[4], F]], {"units": 4, "return_state": True})],
    "GRU": [([SEQ], {"units": 5, "return_sequences": True}), ([SEQ], {"units": 3, "return_state": True,
                                                                      "go_backwards": True}),
            ([SEQ], {"units": 4, "return_sequences": True, "recurrent_dropout": 0.3})],
    "LSTM": [([SEQ], {"units": 5}), ([SEQ], {"units": 4, "return_sequences": True, "return_state": True}),
             ([SEQ, [[4], F], [[4], F]], {"units": 4, "return_state": True}), ([[[None, 6], F]], {"units": 3}),
             ([SEQ, [[4], F], [[4], F]], {"units": 4, "return_state": True, "recurrent_dropout": 0.2})],
    "Bidirectional": [([SEQ], {"layer": "LSTM", "units": 4}),
                      ([SEQ], {"layer": "GRU", "units": 3, "return_sequences": True, "merge_mode": "sum"}),
                      ([SEQ], {"layer": "LSTM", "units": 2, "return_state": True}),
                      ([SEQ, [[6], F], [[6], F]], {"layer": "LSTM", "units": 3, "return_sequences": True})],
    "TimeDistributed": [([SEQ], {"layer": "Dense", "layer_config": {"units": 3}}),
                        ([[[4, 2, 8, 8], F]], {"layer": "Conv2D", "layer_config": {"filters": 3, "kernel_size": 3}})],
    "MultiHeadAttention": [([SEQ, SEQ], {"num_heads": 2, "key_dim": 4}),
                           ([SEQ, [[5, 3], F], [[5, 7], F]], {"num_heads": 3, "key_dim": 2, "value_dim": 5,
                                                              "output_dim": 4, "use_causal_mask": False}),
                           ([SEQ, SEQ], {"num_heads": 1, "key_dim": 3, "use_causal_mask": True})],
    "Add": [([IMG, IMG], {}), ([VEC, VEC, VEC], {})],
    "Subtract": [([VEC, VEC], {})],
    "Multiply": [([SEQ, SEQ], {})],
    "Average": [([VEC, VEC, VEC, VEC], {})],
    "Maximum": [([VEC, VEC], {})],
    "Minimum": [([IMG, IMG], {})],
    "Concatenate": [([VEC, [[3], F]], {}), ([IMG, [[2, 12, 10], F]], {"axis": 1}), ([SEQ, SEQ, SEQ], {"axis": 1})],
    "Dot": [([VEC, VEC], {"axes": 1}), ([SEQ, [[5, 6], F]], {"axes": 2}), ([SEQ, [[9, 4], F]], {"axes": 1,
                                                                                              "normalize": True})],
    "GaussianNoise": [([IMG], {"stddev": 0.2})],
    "GaussianDropout": [([VEC], {"rate": 0.2})],
    "AlphaDropout": [([VEC], {"rate": 0.2})],
    "SpatialDropout1D": [([SEQ], {"rate": 0.3})],
    "SpatialDropout2D": [([IMG], {"rate": 0.3})],
    "SpatialDropout3D": [([VOL], {"rate": 0.3})],
    "ELU": [([VEC], {"alpha": 0.5})],
    "LeakyReLU": [([IMG], {})],
    "PReLU": [([IMG], {"shared_axes": [2, 3]}), ([VEC], {})],
    "ReLU": [([VEC], {}), ([VEC], {"max_value": 0.5, "negative_slope": 0.1, "threshold": 0.2})],
    "Softmax": [([SEQ], {}), ([SEQ], {"axis": 1})],
    "Attention": [([SEQ, [[5, 6], F]], {}), ([SEQ, [[5, 6], F]], {"use_scale": True, "return_attention_scores": True})],
    "AdditiveAttention": [([SEQ, [[5, 6], F]], {}), ([SEQ, [[5, 6], F], [[5], I]], {})],
    "MaxPooling1D": [([SEQ], {}), ([SEQ], {"pool_size": 4, "strides": 2, "padding": "same"})],
    "MaxPooling2D": [([IMG], {}), ([IMG], {"pool_size": 3, "strides": 2, "padding": "same"}),
                     ([IMG], {"pool_size": [2, 3]})],
    "MaxPooling3D": [([VOL], {}), ([VOL], {"pool_size": 3, "padding": "same"})],
    "AveragePooling1D": [([SEQ], {"pool_size": 3})],
    "AveragePooling2D": [([IMG], {}), ([IMG], {"pool_size": 3, "strides": 2, "padding": "same"})],
    "AveragePooling3D": [([VOL], {"pool_size": 2, "padding": "same"})],
    "GlobalMaxPooling1D": [([SEQ], {}), ([SEQ], {"keepdims": True})],
    "GlobalMaxPooling2D": [([IMG], {})],
    "GlobalMaxPooling3D": [([VOL], {"keepdims": True})],
    "GlobalAveragePooling1D": [([SEQ], {})],
    "GlobalAveragePooling2D": [([IMG], {}), ([IMG], {"keepdims": True})],
    "GlobalAveragePooling3D": [([VOL], {})],
    # "module" is an opaque carried module: tested through build reuse and the formats, not here
}
SKIP = {"module"}


def samples(kind: str) -> list[tuple[list, dict]]:
    cls = get_layer(kind)
    out = list(SAMPLES.get(kind, []))
    for ex in getattr(cls, "examples", []) or []:
        out.append((ex["inputs"], ex.get("config", {})))
    return out


def kinds() -> list[str]:
    return sorted(k for k in load_all() if k not in SKIP)


def _specs(inputs) -> list[TensorSpec]:
    return [TensorSpec(f"in_{i}", tuple(shape), dtype) for i, (shape, dtype) in enumerate(inputs)]


def _random(spec: TensorSpec, batch: int, var: int, gen: torch.Generator) -> torch.Tensor:
    shape = (batch,) + tuple(var if d is None else d for d in spec.shape)
    dt = getattr(torch, spec.dtype)
    if dt.is_floating_point:
        return torch.randn(shape, generator=gen, dtype=dt)
    return torch.randint(0, 10, shape, generator=gen).to(dt)


def check_layer(kind: str, inputs: list, config: dict, batch: int = 3, var: int = 7) -> list[TensorSpec]:
    """Infer, build, run; assert the real outputs match the inferred specs. Returns the inferred specs."""
    cls = get_layer(kind)
    in_specs = _specs(inputs)
    cfg, outs = cls.infer("layer_1", in_specs, config)
    if kind == "Input":  # an Input reads the network's input of its own shape
        in_specs = [TensorSpec("x", outs[0].shape, outs[0].dtype)]
    torch.manual_seed(0)
    module = cls.build(cfg, in_specs)
    gen = torch.Generator().manual_seed(1)
    xs = [_random(s, batch, var, gen) for s in in_specs]
    module.train()
    y = module(*xs)
    ys = list(y) if isinstance(y, tuple) else [y]
    assert len(ys) == len(outs), f"{kind} {config}: {len(ys)} outputs, inferred {len(outs)}"
    for got, want in zip(ys, outs):
        expect = (batch,) + tuple(var if d is None else d for d in want.shape)
        assert tuple(got.shape) == expect, f"{kind} {config}: real shape {tuple(got.shape)}, inferred {expect}"
        assert str(got.dtype).replace("torch.", "") == want.dtype, f"{kind}: dtype {got.dtype}, inferred {want.dtype}"
    params = [p for p in module.parameters() if p.requires_grad]
    if params and all(t.is_floating_point() for t in ys):
        sum(t.float().sum() for t in ys).backward()
        assert any(p.grad is not None and torch.isfinite(p.grad).all() for p in params), f"{kind}: no gradient"
    module.eval()
    with torch.no_grad():
        a = module(*xs)
        b = module(*xs)
    a = list(a) if isinstance(a, tuple) else [a]
    b = list(b) if isinstance(b, tuple) else [b]
    for u, v in zip(a, b):
        assert torch.equal(u, v), f"{kind}: eval mode is not deterministic"
    return list(outs)


def single_layer_network(kind: str, inputs: list, config: dict):
    """A network of Input layers + one layer of `kind` (for export checks over the catalogue)."""
    from deepnodes.dl.build import LayerBuilder
    from deepnodes.dl.network import Network
    from deepnodes.dl.spec import LayerEntry, NetworkSpec

    specs = _specs(inputs)
    layers = [LayerEntry(s.name, "Input", {"shape": [-1 if d is None else d for d in s.shape], "dtype": s.dtype}, (),
                         (s,)) for s in specs]
    cfg, outs = get_layer(kind).infer("layer_1", specs, config)
    layers.append(LayerEntry("layer_1", kind, cfg, tuple(s.name for s in specs), outs))
    spec = NetworkSpec(tuple(specs), outs, tuple(layers), tuple(o.name for o in outs))
    return Network(spec, builder=LayerBuilder(seed=0))


#: bad inputs and the one sentence each layer answers with
BAD: list[tuple[str, list, dict, str]] = [
    ("Conv2D", [[[784], F]], {}, "Conv2D needs an input of shape (C, H, W); it got (784,) from in_0"),
    ("Conv1D", [IMG], {}, "Conv1D needs an input of shape (T, F); it got (3, 12, 10) from in_0"),
    ("Conv3D", [IMG], {}, "Conv3D needs an input of shape (C, D, H, W); it got (3, 12, 10) from in_0"),
    ("Conv2D", [IMG], {"kernel_size": 11}, "Conv2D: the kernel (11, 11) is larger than the input's spatial size "
                                          "(12, 10) from in_0 with padding 'valid'"),
    ("Conv2D", [[[1, 28, 28], I]], {}, "Conv2D needs a floating-point input; it got int64 from in_0 (an Embedding "
                                      "turns integer token ids into vectors)"),
    ("MaxPooling2D", [SEQ], {}, "MaxPooling2D needs an input of shape (C, H, W); it got (9, 6) from in_0"),
    ("GlobalAveragePooling1D", [IMG], {}, "GlobalAveragePooling1D needs an input of shape (T, F); it got (3, 12, 10) "
                                          "from in_0"),
    ("LSTM", [VEC], {}, "LSTM needs an input of shape (T, F); it got (8,) from in_0"),
    ("LSTM", [SEQ, [[5], F]], {"units": 4}, "LSTM needs an initial state h of shape (4,); it got (5,) from in_1"),
    ("Bidirectional", [SEQ, [[4], F]], {"units": 4}, "Bidirectional needs an initial state h of shape (8,); it got "
                                                     "(4,) from in_1"),
    ("Embedding", [[[10, 4], F]], {}, "Embedding needs token ids of shape (T,); it got (10, 4) float32 from in_0"),
    ("Dense", [[[None], F]], {}, "Dense needs an input whose last axis has a known size; it got (?,) from in_0"),
    ("Flatten", [[[None, 4], F]], {}, "Flatten needs an input of known shape; it got (?, 4) from in_0"),
    ("RepeatVector", [SEQ], {}, "RepeatVector needs an input of shape (F,); it got (9, 6) from in_0"),
    ("Permute", [SEQ], {"dims": [1, 3]}, "option 'dims' of Permute must be a permutation of 1..2 for the input "
                                         "(9, 6) from in_0; it is [1, 3]"),
    ("Reshape", [VEC], {"target_shape": [3, -1]}, "Reshape cannot turn (8,) from in_0 (8 values) into (3, -1)"),
    ("Add", [VEC, [[4], F]], {}, "Add needs inputs of one shape; it got (8,) from in_0 and (4,) from in_1"),
    ("Concatenate", [IMG, [[3, 11, 10], F]], {"axis": 1}, "Concatenate needs inputs whose shapes differ only along "
                                                         "axis 1; it got (3, 12, 10) from in_0 and (3, 11, 10) from in_1"),
    ("Concatenate", [VEC, VEC], {"axis": 2}, "option 'axis' of Concatenate is 2, outside the input's axes 1..1 "
                                             "(axis 0 is the batch)"),
    ("Dot", [VEC, [[4], F]], {"axes": 1}, "Dot needs the contracted axes to have one size; in_0 has 8 and in_1 has 4"),
    ("MultiHeadAttention", [VEC, VEC], {}, "MultiHeadAttention needs a query of shape (T, F); it got (8,) from in_0"),
    ("TimeDistributed", [VEC], {}, "TimeDistributed needs a sequence (T, ...); it got (8,) from in_0"),
    ("TimeDistributed", [[[4, 8], F]], {"layer": "Conv2D", "layer_config": {}},
     "Conv2D needs an input of shape (C, H, W); it got (8,) from in_0"),
    ("BatchNormalization", [[[None], F]], {}, "BatchNormalization needs a known size on the normalised axis; it got "
                                              "(?,) from in_0"),
    ("LayerNormalization", [IMG], {"axis": 1}, "option 'axis' of LayerNormalization must name the trailing axes "
                                               "(e.g. -1, or [1, 2, 3] for a whole image)"),
    ("SpatialDropout2D", [VEC], {}, "SpatialDropout2D needs an input of shape (C, H, W); it got (8,) from in_0"),
    ("Cropping2D", [IMG], {"cropping": 6}, "Cropping2D would crop the input (3, 12, 10) from in_0 to nothing"),
    ("Dense", [VEC], {"units": "ten"}, "option 'units' of Dense must be a whole number; it is 'ten'"),
    ("Dense", [VEC], {"activation": "relux"}, "option 'activation' of Dense must be one of 'linear', 'relu', "),
    ("Dense", [VEC], {"unit": 3}, "Dense has no option 'unit'; its options are 'units', "),
    ("Dropout", [VEC], {"rate": 1.0}, "option 'rate' of Dropout must be less than 1; it is 1.0"),
    ("Add", [VEC], {}, "Add takes 2 to 5 inputs; it got 1"),
]


def check_bad(kind: str, inputs: list, config: dict, message: str) -> None:
    """The layer refuses the input with exactly `message` (or a message starting with it when it ends in ', ')."""
    import pytest

    with pytest.raises(ValueError) as e:
        get_layer(kind).infer("layer_1", _specs(inputs), config)
    got = str(e.value)
    assert got.startswith(message) if message.endswith(", ") else got == message, got
