"""The Learner's pool-first choice (deepnodes.dl.speed): a convolution's ReLU-like activation followed only by a max
pooling runs after the pooling. Max and a non-decreasing activation commute, so the rewritten network computes the
same values and gradients; it applies exactly where that holds, and `restore` gives back the network as built."""
import pytest
import torch
from hypothesis import given, settings, strategies as st

from deepnodes.dl.build import LayerBuilder
from deepnodes.dl.convert import Binding, convert
from deepnodes.dl.graph import append_layer, collect_outputs, input_spec
from deepnodes.dl.network import Network
from deepnodes.dl.options import TrainingOptions
from deepnodes.dl.speed import _pool_pairs, pool_before_activation, restore, speed_plan
from deepnodes.dl.train import LossSpec, train
from tests.dl.dl_data import fashion

COMMUTING = {"relu", "relu6", "leaky_relu"}
ACTIVATIONS = sorted(COMMUTING | {"tanh", "gelu", "swish", "linear", "elu"})


def network(act1="relu", pool1="MaxPooling2D", act2="relu", pool2="MaxPooling2D", padding="valid",
            conv1_also_output=False):
    """Input (1, 28, 28) -> Conv2D act1 -> pool1 -> Conv2D act2 -> pool2 -> Flatten -> Dense softmax
    (optionally conv1's output is a second network output, so the pooling is not its only reader)."""
    s, _ = append_layer([input_spec((1, 28, 28), name="image")], "Conv2D",
                        {"filters": 4, "kernel_size": 3, "activation": act1, "padding": padding}, name="conv1")
    conv1 = s
    s, _ = append_layer([s], pool1, {"padding": padding} if pool1 == "MaxPooling2D" else {}, name="pool1")
    s, _ = append_layer([s], "Conv2D", {"filters": 6, "kernel_size": 3, "activation": act2}, name="conv2")
    s, _ = append_layer([s], pool2, {"pool_size": 3, "strides": 2} if pool2 == "MaxPooling2D" else {},
                        name="pool2")
    s, _ = append_layer([s], "Flatten", {}, name="flatten")
    s, _ = append_layer([s], "Dense", {"units": 10, "activation": "softmax"}, name="dense")
    if conv1_also_output:
        s, _ = collect_outputs([s, conv1])
    return Network(s, builder=LayerBuilder(seed=0), metadata={"output_activations": ["softmax"]})


def _grads(module, x):
    x = x.clone().requires_grad_(True)
    outs = module(x)
    loss = sum((o * torch.linspace(-1, 1, o.numel()).view_as(o)).sum() for o in outs)
    module.zero_grad()
    loss.backward()
    return [o.detach() for o in outs], [x.grad] + [p.grad.clone() for p in module.parameters()]


@settings(max_examples=30, deadline=None, derandomize=True)
@given(act1=st.sampled_from(ACTIVATIONS), act2=st.sampled_from(ACTIVATIONS),
       pool1=st.sampled_from(["MaxPooling2D", "AveragePooling2D"]), pool2=st.sampled_from(["MaxPooling2D",
                                                                                         "AveragePooling2D"]),
       padding=st.sampled_from(["valid", "same"]), also_output=st.booleans(), seed=st.integers(0, 99))
def test_pool_first_applies_where_it_commutes_and_changes_no_value_or_gradient(act1, act2, pool1, pool2, padding,
                                                                               also_output, seed):
    net = network(act1, pool1, act2, pool2, padding, also_output)
    net.build(seed=0)
    m = net.module
    want = []
    if act1 in COMMUTING and pool1 == "MaxPooling2D" and not also_output:
        want.append("conv1")
    if act2 in COMMUTING and pool2 == "MaxPooling2D":
        want.append("conv2")
    names = {id(mod): name for name, mod in m.named_children()}
    assert [names[id(c)] for c, _ in _pool_pairs(m)] == want
    x = torch.randn(5, 1, 28, 28, generator=torch.Generator().manual_seed(seed))
    keys = list(m.state_dict())
    out0, g0 = _grads(m, x)
    pool_before_activation(m)
    out1, g1 = _grads(m, x)
    assert list(m.state_dict()) == keys  # the moved activations are not submodules: the module tree is as built
    for a, b in zip(out0 + g0, out1 + g1):
        assert torch.allclose(a, b, rtol=1e-5, atol=1e-6)
    restore(m)
    assert [names[id(c)] for c, _ in _pool_pairs(m)] == want
    assert all(getattr(p, "post", None) is None for p in m.children())
    out2, _ = _grads(m, x)
    assert all(torch.equal(a, b) for a, b in zip(out0, out2))


@pytest.fixture(scope="module")
def data():
    net = network()
    conv = lambda t: ([convert(t, Binding(("image",)), net.spec.inputs[0])],  # noqa: E731
                      [convert(t, Binding(("label",), role="target"), net.spec.outputs[0])])
    return conv(fashion(256)), conv(fashion(128, 256))


def test_training_with_pool_first_trains_the_same_weights_and_hands_back_the_built_network(data, monkeypatch):
    (x, y), (vx, vy) = data
    opts = TrainingOptions(epochs=2, batch_size=32, seed=4, learning_rate=0.003)
    sce = [LossSpec("sparse_categorical_crossentropy")]
    net = network()
    plan = speed_plan(net.copy().build(seed=0), torch.device("cpu"), opts)
    assert plan.pool_first and "max pooling before" in plan.describe()
    fast = train(net, x, y, opts, sce, val_x=vx, val_y=vy)
    monkeypatch.setattr("deepnodes.dl.speed._pool_pairs", lambda module: [])
    plain = train(network(), x, y, opts, sce, val_x=vx, val_y=vy)
    for (k, a), b in zip(fast.network.module.state_dict().items(), plain.network.module.state_dict().values()):
        assert torch.allclose(a, b, rtol=1e-4, atol=1e-5), k
    assert fast.history[-1]["val_loss"] == pytest.approx(plain.history[-1]["val_loss"], rel=1e-4)
    monkeypatch.undo()
    m = fast.network.module
    assert type(m.conv1.act).__name__ == "ReLU" and m.pool1.__dict__.get("post") is None
    assert [c for c, _ in _pool_pairs(m)] == [m.conv1, m.conv2]
