"""The Learner's speed choices (deepnodes.dl.speed): chosen from the network and device, and the optimised path
trains to the same weights and metrics as the plain one (within float rounding) on a small CNN of real images."""
import pytest
import torch
from hypothesis import given, settings, strategies as st
from torch import nn

from deepnodes.dl.convert import Binding, convert
from deepnodes.dl.network import Network
from deepnodes.dl.optim import make_optimizer
from deepnodes.dl.options import TrainingOptions
from deepnodes.dl.spec import NetworkSpec, TensorSpec
from deepnodes.dl.speed import conv_format, speed_plan
from deepnodes.dl.train import LossSpec, train
from tests.dl.dl_data import fashion

SPEC = NetworkSpec((TensorSpec("image", (1, 28, 28)),), (TensorSpec("probs", (10,)),))
SCE = [LossSpec("sparse_categorical_crossentropy")]
OPTIMIZERS = ["adam", "adamw", "sgd", "rmsprop", "adagrad", "nadam", "adamax", "adadelta"]


LR = {"sgd": 0.01, "adagrad": 0.01, "adadelta": 1.0}


def cnn():
    """BatchNorm after the ReLU: a convolution's bias right before a BatchNorm has a gradient of pure rounding
    noise, which Adam's m/sqrt(v) turns into updates of size lr in either layout."""
    return nn.Sequential(nn.Conv2d(1, 8, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(8, 16, 3), nn.ReLU(),
                         nn.BatchNorm2d(16), nn.MaxPool2d(2), nn.Flatten(), nn.Dropout(0.3), nn.Linear(400, 10),
                         nn.Softmax(-1))


def net(builder=cnn):
    return Network(SPEC, builder=lambda s: builder(), metadata={"output_activations": ["softmax"]})


@pytest.fixture(scope="module")
def data():
    conv = lambda t: ([convert(t, Binding(("image",)), SPEC.inputs[0])],  # noqa: E731
                      [convert(t, Binding(("label",), role="target"), SPEC.outputs[0])])
    return conv(fashion(384)), conv(fashion(200, 384))


def test_plan_follows_the_network_and_the_optimizer():
    cpu = torch.device("cpu")
    plan = speed_plan(cnn(), cpu, TrainingOptions())
    assert plan.memory_format is torch.channels_last and plan.optimizer_kwargs == {"fused": True}
    assert not plan.compile and not plan.pin
    mlp = nn.Sequential(nn.Flatten(), nn.Linear(784, 10))
    assert speed_plan(mlp, cpu, TrainingOptions()).memory_format is None
    assert conv_format(nn.Sequential(nn.Conv3d(1, 2, 3))) is torch.channels_last_3d
    assert conv_format(nn.Sequential(nn.Conv1d(1, 2, 3))) is None  # 1D convolutions gain nothing from NHWC
    assert speed_plan(cnn(), cpu, TrainingOptions(optimizer="rmsprop")).optimizer_kwargs == {"foreach": True}
    plain = speed_plan(cnn(), cpu, TrainingOptions(), enabled=False)
    assert plain.memory_format is None and plain.optimizer_kwargs == {} and plain.describe() == ""
    assert speed_plan(cnn(), cpu, TrainingOptions(compile=True), enabled=False).compile  # asked for: honoured


def _opts(optimizer, batch, shuffle, epochs):
    return TrainingOptions(epochs=epochs, batch_size=batch, optimizer=optimizer, shuffle=shuffle, seed=3,
                           learning_rate=LR.get(optimizer, 0.002))


def test_channels_last_gives_the_plain_gradients(data):
    """The network in its chosen memory format computes the same outputs and gradients as in the default one."""
    (x, _), _ = data
    xb = x[0].data[:64].float()
    a, b = cnn(), cnn()
    b.load_state_dict(a.state_dict())
    plan = speed_plan(b, torch.device("cpu"), TrainingOptions())
    plan.prepare(b)
    a.eval(), b.eval()  # no dropout draws: the same function
    oa, ob = a(xb), b(*plan.batch([xb]))
    assert torch.allclose(oa, ob, atol=1e-6)
    oa.log().sum().backward()
    ob.log().sum().backward()
    for (k, pa), pb in zip(a.named_parameters(), b.parameters()):
        assert torch.allclose(pa.grad, pb.grad, rtol=1e-4, atol=1e-5), k


@settings(max_examples=16, deadline=None, derandomize=True)
@given(optimizer=st.sampled_from(OPTIMIZERS), steps=st.integers(1, 6), seed=st.integers(0, 1000),
       weight_decay=st.sampled_from([0.0, 0.01]), amsgrad=st.booleans())
def test_fused_and_foreach_steps_compute_the_plain_update(optimizer, steps, seed, weight_decay, amsgrad):
    """Given the same gradients, the optimizer step the plan picks updates the weights as torch's per-weight loop."""
    g = torch.Generator().manual_seed(seed)
    shapes = [(8, 1, 3, 3), (8,), (10, 400), (10,)]
    w0 = [torch.randn(s, generator=g) for s in shapes]
    grads = [[torch.randn(s, generator=g) for s in shapes] for _ in range(steps)]
    opts = TrainingOptions(optimizer=optimizer, weight_decay=weight_decay, amsgrad=amsgrad,
                           momentum=0.9 if optimizer == "sgd" else 0.0, learning_rate=LR.get(optimizer, 0.002))
    fast_kw = speed_plan(cnn(), torch.device("cpu"), opts).optimizer_kwargs
    assert fast_kw  # every optimizer has a fused or foreach step
    out = []
    for kw in (fast_kw, {"foreach": False}):
        ps = [nn.Parameter(w.clone()) for w in w0]
        opt = make_optimizer(opts, [{"params": ps}], kw)
        for gs in grads:
            for p_, gr in zip(ps, gs):
                p_.grad = gr.clone()
            opt.step()
        out.append(ps)
    for pa, pb in zip(*out):
        assert torch.allclose(pa, pb, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("optimizer", ["adam", "sgd", "rmsprop"])
def test_optimised_training_reaches_the_same_accuracy(data, optimizer):
    """Over whole epochs rounding differences grow (training is chaotic), so the metrics agree within noise."""
    (x, y), (vx, vy) = data
    opts = _opts(optimizer, 32, True, 2)
    fast = train(net(), x, y, opts, SCE, val_x=vx, val_y=vy)
    plain = train(net(), x, y, opts, SCE, val_x=vx, val_y=vy, speedups=False)
    for ra, rb in zip(fast.history, plain.history, strict=True):
        assert ra["loss"] == pytest.approx(rb["loss"], rel=0.02)
        assert ra["val_loss"] == pytest.approx(rb["val_loss"], rel=0.02)
        assert abs(ra["accuracy"] - rb["accuracy"]) < 0.02 and abs(ra["val_accuracy"] - rb["val_accuracy"]) < 0.03
    assert fast.history[-1]["val_accuracy"] > 0.4  # it learns (chance is 0.1)


def test_trained_network_is_handed_back_in_the_default_layout(data):
    (x, y), _ = data
    n0 = net()
    lines = []
    r = train(n0, x, y, TrainingOptions(epochs=1), SCE, log=lines.append)
    assert not n0.built  # the input network is not touched
    assert any("channels_last" in s and "fused" in s for s in lines)
    assert all(p.is_contiguous() for p in r.network.module.parameters())
    assert all(b.is_contiguous() for b in r.network.module.buffers())
    # it predicts like a contiguous copy of itself
    xb = x[0].data[:16].float()
    with torch.no_grad():
        out = r.network.module(xb)
        assert torch.allclose(out, r.network.module(xb.contiguous(memory_format=torch.channels_last)), atol=1e-5)


@pytest.mark.slow
def test_compile_is_opt_in_and_trains_alike(data):
    """`compile: true` compiles the forward pass (about a minute here on the CPU, hence not the default); inductor's
    dropout draws other numbers than eager's, so the loss agrees within noise, not bit for bit."""
    (x, y), _ = data
    lines = []
    opts = TrainingOptions(epochs=1, batch_size=64, compile=True)
    compiled = train(net(), x, y, opts, SCE, log=lines.append)
    eager = train(net(), x, y, TrainingOptions(epochs=1, batch_size=64), SCE)
    assert any("torch.compile" in s for s in lines)
    assert compiled.history[0]["loss"] == pytest.approx(eager.history[0]["loss"], rel=0.05)
    assert all(p.is_contiguous() for p in compiled.network.module.parameters())
