"""The Learner trains a softmax output's cross-entropy on its logits (deepnodes.dl.speed `use_logits`): the same
loss and gradients as the probability path, only for outputs nothing else reads, and the softmax is back after."""
import pytest
import torch
from hypothesis import given, settings, strategies as st

from deepnodes.core import Engine, Workflow
from deepnodes.dl.losses import LossFn, LossSpec
from deepnodes.dl.options import TrainingOptions
from deepnodes.dl.speed import softmax_outputs, speed_plan
from deepnodes.dl.train import train


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10_000), smoothing=st.sampled_from([0.0, 0.05, 0.1, 0.3]), ignore=st.booleans(),
       sparse=st.booleans())
def test_loss_on_logits_equals_the_loss_on_probabilities(seed, smoothing, ignore, sparse):
    g = torch.Generator().manual_seed(seed)
    z = (torch.randn(6, 5, 7, generator=g) * 2).requires_grad_()
    t = torch.randint(0, 7, (6, 5), generator=g)
    name = "sparse_categorical_crossentropy" if sparse else "categorical_crossentropy"
    spec = LossSpec(name, label_smoothing=smoothing, ignore_index=0 if ignore and sparse else None)
    target = t if sparse else torch.nn.functional.one_hot(t, 7).float()
    a, ca, na = LossFn(spec, True, "cpu")(z, target)
    (ga,) = torch.autograd.grad(a, z)
    b, cb, nb = LossFn(spec, False, "cpu")(torch.softmax(z, -1), target)
    (gb,) = torch.autograd.grad(b, z)
    assert torch.allclose(a, b, atol=1e-5) and torch.allclose(ga, gb, atol=1e-6)
    assert int(ca) == int(cb) and int(na) == int(nb)


def network(extra_reader: bool = False):
    """Embedding -> LSTM -> Dense softmax over 9 ids, from layer nodes; `extra_reader`: a second output reads the
    softmax (so it must stay)."""
    wf = Workflow("t")
    wf.add("deepnodes.layers.Input", "x", {"shape": [-1], "dtype": "int64", "name": "x"})
    wf.add("deepnodes.layers.Embedding", "emb", {"input_dim": 9, "output_dim": 8})
    wf.add("deepnodes.layers.LSTM", "lstm", {"units": 8, "return_sequences": True})
    wf.add("deepnodes.layers.Dense", "probs", {"units": 9, "activation": "softmax", "name": "probs"})
    for a, b in (("x", "emb"), ("emb", "lstm"), ("lstm", "probs")):
        wf.connect(a, "network", b, "input")
    last = "probs"
    if extra_reader:
        wf.add("deepnodes.layers.Dense", "after", {"units": 2, "name": "after"})
        wf.connect("probs", "network", "after", "input")
        last = "after"
    eng = Engine(wf)
    assert eng.run(nodes=[last]).ok, {k: s.message for k, s in eng.status.items()}
    return eng.output(last)


def assert_probabilities(net, x):
    with torch.inference_mode():
        (p,) = net.forward(x)
    assert torch.allclose(p.sum(-1), torch.ones(p.shape[:-1]), atol=1e-5) and float(p.min()) >= 0


def test_only_an_output_nobody_else_reads_trains_on_logits():
    net = network()
    assert list(softmax_outputs(net.module)) == [0]
    inner = network(extra_reader=True)  # the softmax feeds another layer: it stays
    assert softmax_outputs(inner.module) == {}


@pytest.mark.parametrize("smoothing", [0.0, 0.1])
def test_training_on_logits_gives_the_plain_weights_and_the_softmax_back(smoothing):
    net = network()
    g = torch.Generator().manual_seed(3)
    x = torch.randint(1, 9, (96, 7), generator=g)
    x[::3, 5:] = 0  # padding the loss leaves out
    y = torch.roll(x, 1, dims=1)
    opts = TrainingOptions(epochs=2, batch_size=16, seed=2, learning_rate=0.01)
    loss = [LossSpec("sparse_categorical_crossentropy", label_smoothing=smoothing, ignore_index=0)]
    logs = []
    fast = train(net, [x], [y], opts, loss, val_x=[x[:32]], val_y=[y[:32]], log=logs.append)
    plain = train(net, [x], [y], opts, loss, val_x=[x[:32]], val_y=[y[:32]], speedups=False)
    assert any("cross-entropy on the logits" in s for s in logs)
    for k, v in fast.network.module.state_dict().items():
        assert torch.allclose(v, plain.network.module.state_dict()[k], atol=2e-5), k
    for a, b in zip(fast.history, plain.history):
        assert abs(a["loss"] - b["loss"]) < 1e-5 and abs(a["val_loss"] - b["val_loss"]) < 1e-5
        assert a["accuracy"] == b["accuracy"]
    assert_probabilities(fast.network, x[:4])  # handed back with its softmax
    assert_probabilities(net, x[:4])  # the input network was never changed
    assert list(softmax_outputs(fast.network.module)) == [0]


def test_plain_plan_and_other_losses_keep_the_probabilities():
    net = network()
    net.module
    fns = [LossFn(LossSpec("mse"), False, "cpu")]
    plan = speed_plan(net.module, torch.device("cpu"), TrainingOptions())
    assert plan.use_logits(net.module, fns) == [] and not fns[0].logits  # a regression loss reads the values
    fns = [LossFn(LossSpec("sparse_categorical_crossentropy"), False, "cpu")]
    plain = speed_plan(net.module, torch.device("cpu"), TrainingOptions(), enabled=False)
    assert plain.use_logits(net.module, fns) == [] and not fns[0].logits
    assert_probabilities(net, torch.ones(1, 3, dtype=torch.long))
