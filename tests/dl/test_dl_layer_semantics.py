"""What some layers compute, against direct torch formulas (Keras semantics where they differ from torch's)."""
import torch
import torch.nn.functional as F

from deepnodes.dl.layers import get_layer
from deepnodes.dl.spec import TensorSpec


def _build(kind, shapes, config, seed=0):
    specs = [TensorSpec(f"in_{i}", tuple(s), "float32") for i, s in enumerate(shapes)]
    cfg, outs = get_layer(kind).infer("l", specs, config)
    torch.manual_seed(seed)
    return get_layer(kind).build(cfg, specs), outs


def test_conv_same_padding_follows_the_tensorflow_rule():
    m, outs = _build("Conv2D", [[2, 9, 9]], {"filters": 3, "kernel_size": 4, "strides": 2, "padding": "same"})
    x = torch.rand(1, 2, 9, 9)
    # TF: out = ceil(9/2) = 5; total pad = (5-1)*2 + 4 - 9 = 3 -> 1 before, 2 after
    want = F.conv2d(F.pad(x, [1, 2, 1, 2]), m.conv.weight, m.conv.bias, stride=2)
    assert outs[0].shape == (3, 5, 5) and torch.allclose(m(x), want, atol=1e-6)


def test_average_pooling_same_ignores_the_padding():
    m, _ = _build("AveragePooling2D", [[1, 3, 3]], {"pool_size": 2, "padding": "same"})
    x = torch.arange(9.0).reshape(1, 1, 3, 3)
    y = m(x)
    assert y.shape == (1, 1, 2, 2)
    assert torch.allclose(y[0, 0], torch.tensor([[2.0, 3.5], [6.5, 8.0]]))  # corner windows average fewer values
    mx, _ = _build("MaxPooling2D", [[1, 3, 3]], {"pool_size": 2, "padding": "same"})
    assert torch.equal(mx(x - 100)[0, 0], torch.tensor([[4.0, 5.0], [7.0, 8.0]]) - 100)  # padding never wins


def test_batch_normalization_normalises_the_chosen_axis():
    m, _ = _build("BatchNormalization", [[3, 4, 5]], {"axis": -1, "epsilon": 1e-5})
    m.train()
    x = torch.randn(8, 3, 4, 5) * 3 + torch.arange(5.0)
    y = m(x)
    assert torch.allclose(y.mean(dim=(0, 1, 2)), torch.zeros(5), atol=1e-4)
    assert torch.allclose(y.var(dim=(0, 1, 2), unbiased=False), torch.ones(5), atol=1e-3)
    assert m.bn.momentum == 1 - 0.99  # Keras momentum 0.99 = torch momentum 0.01


def test_lstm_states_are_the_last_step_and_initial_states_are_used():
    m, outs = _build("LSTM", [[6, 3]], {"units": 4, "return_sequences": True, "return_state": True})
    x = torch.rand(2, 6, 3)
    seq, h, c = m(x)
    assert torch.allclose(seq[:, -1], h)
    h0, c0 = torch.rand(2, 4), torch.rand(2, 4)
    seq2, _, _ = m(x, h0, c0)
    want, _ = m.rnn(x, (h0[None], c0[None]))
    assert torch.allclose(seq2, want) and not torch.allclose(seq2, seq)
    assert torch.all(m.rnn.bias_ih_l0[4:8] == 1.0)  # unit_forget_bias


def test_bidirectional_concatenates_forward_and_backward_final_states():
    m, outs = _build("Bidirectional", [[5, 3]], {"layer": "GRU", "units": 2})
    x = torch.rand(2, 5, 3)
    y = m(x)
    out, _ = m.rnn(x)
    assert outs[0].shape == (4,)
    assert torch.allclose(y, torch.cat([out[:, -1, :2], out[:, 0, 2:]], dim=1), atol=1e-6)


def test_dot_and_concatenate_axes_follow_keras_numbering():
    m, outs = _build("Dot", [[4, 6], [5, 6]], {"axes": 2})
    a, b = torch.rand(2, 4, 6), torch.rand(2, 5, 6)
    assert outs[0].shape == (4, 5) and torch.allclose(m(a, b), torch.einsum("nik,njk->nij", a, b), atol=1e-6)
    m, outs = _build("Dot", [[4, 6], [4, 3]], {"axes": 1, "normalize": True})
    b = torch.rand(2, 4, 3)
    want = torch.einsum("nki,nkj->nij", F.normalize(a, dim=1), F.normalize(b, dim=1))
    assert outs[0].shape == (6, 3) and torch.allclose(m(a, b), want, atol=1e-6)
    c, outs = _build("Concatenate", [[2, 4, 4], [3, 4, 4]], {"axis": 1})
    assert outs[0].shape == (5, 4, 4)


def test_conv1d_reads_sequences_steps_first():
    m, outs = _build("Conv1D", [[10, 3]], {"filters": 5, "kernel_size": 3})
    x = torch.rand(2, 10, 3)
    want = F.conv1d(x.transpose(1, 2), m.conv.weight, m.conv.bias).transpose(1, 2)
    assert outs[0].shape == (8, 5) and torch.allclose(m(x), want, atol=1e-6)


def test_multi_head_attention_causal_mask_hides_the_future():
    m, _ = _build("MultiHeadAttention", [[5, 4], [5, 4]], {"num_heads": 2, "key_dim": 3, "use_causal_mask": True})
    m.eval()
    x = torch.rand(1, 5, 4)
    y = m(x, x)
    x2 = x.clone()
    x2[0, 4] += 1.0  # changing the last step changes no earlier output
    y2 = m(x2, x2)
    assert torch.allclose(y[0, :4], y2[0, :4], atol=1e-6) and not torch.allclose(y[0, 4], y2[0, 4])


def test_time_distributed_applies_one_layer_to_every_step():
    m, outs = _build("TimeDistributed", [[4, 6]], {"layer": "Dense", "layer_config": {"units": 2}})
    x = torch.rand(3, 4, 6)
    assert outs[0].shape == (4, 2) and torch.allclose(m(x), m.layer(x), atol=1e-6)
