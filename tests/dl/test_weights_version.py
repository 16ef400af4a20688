"""The ONNX export cache key (`infer.weights_hash`) is memoised per network, so it must follow every change of the
weights: each mutation path (training with a fused optimizer, load_state_dict, batch-norm statistics, a replaced
layer, `.to()`, writes through `.data` / numpy announced with `weights_changed`, the reader) gives a new key and a
fresh export whose predictions are the new weights' own."""
import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from deepnodes.dl import infer
from deepnodes.dl.network import Network
from deepnodes.dl.spec import NetworkSpec, TensorSpec

SPEC = NetworkSpec((TensorSpec("x", (1, 6, 6)),), (TensorSpec("y", (3,)),))


def small_net(seed: int = 0) -> Network:
    gen = torch.Generator().manual_seed(seed)
    m = nn.Sequential(nn.Conv2d(1, 4, 3), nn.BatchNorm2d(4), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 4 * 4, 3))
    with torch.no_grad():
        for p in m.parameters():
            p.copy_(torch.rand(p.shape, generator=gen) - 0.5)
    return Network(SPEC, module=m)


def fresh_digest(net: Network) -> str:
    """The digest computed from scratch (no memo)."""
    infer._DIGESTS.pop(net, None)
    return infer.weights_digest(net)


def x_batch(n: int = 5) -> torch.Tensor:
    return torch.rand((n, 1, 6, 6), generator=torch.Generator().manual_seed(7))


# each mutation changes the weights in place, the way some path of the product does
def m_fused_step(net):  # the training loop's fused optimizer step moves no version counter; the loop says so
    m = net.module  # (eval mode: a train-mode forward would move batch-norm's counter, which is version counted)
    opt = torch.optim.Adam(m.parameters(), lr=0.05, fused=True)
    m(x_batch()).sum().backward()
    opt.step()
    net.weights_changed()


def m_load_state(net):  # keep-best / NaN restore, a reader loading into a module
    sd = {k: (v + 0.25 if v.is_floating_point() else v) for k, v in net.module.state_dict().items()}
    net.module.load_state_dict(sd)


def m_batchnorm_stats(net):  # a train-mode forward updates running statistics inside the kernel
    net.module.train()
    with torch.no_grad():
        net.module(x_batch() * 3 + 1)
    net.module.eval()
    net.weights_changed()


def m_replace_layer(net):  # surgery on the module itself: a new head
    net.module[4] = nn.Linear(4 * 4 * 4, 3)


def m_data_write(net):  # a write through .data (not version counted), announced
    net.module[0].weight.data.add_(0.2)
    net.weights_changed()


def m_numpy_write(net):  # a write through a numpy view (not version counted), announced
    net.module[4].bias.detach().numpy()[:] += 0.5
    net.weights_changed()


def m_inplace_no_grad(net):  # an initialiser / optimizer foreach step: version counted, nothing to announce
    with torch.no_grad():
        net.module[4].weight.add_(0.1)


def m_move(net):  # module.to(): new tensors (the learner hands networks on in the default layout)
    net.module.to(memory_format=torch.channels_last)
    with torch.no_grad():
        net.module[0].bias.add_(0.3)


MUTATIONS = [m_fused_step, m_load_state, m_batchnorm_stats, m_replace_layer, m_data_write, m_numpy_write,
             m_inplace_no_grad, m_move]


@pytest.mark.parametrize("mutate", MUTATIONS, ids=lambda f: f.__name__)
def test_each_mutation_path_invalidates_the_cached_export(mutate, monkeypatch, tmp_path):
    monkeypatch.setenv("DEEPNODES_CACHE", str(tmp_path))
    monkeypatch.setattr(infer, "_SESSIONS", {})
    net = small_net()
    net.module.eval()
    before = infer.weights_hash(net, "k")
    assert infer.weights_hash(net, "k") == before  # memoised: unchanged weights, the same key
    (a,), used = infer.predict(net, [x_batch()], device="cpu")
    assert used == "onnxruntime"
    mutate(net)
    after = infer.weights_hash(net, "k")
    assert after != before and infer.weights_digest(net) == fresh_digest(net)
    (b,), used = infer.predict(net, [x_batch()], device="cpu")
    with torch.inference_mode():
        want = net.module(x_batch()).numpy()
    assert used == "onnxruntime" and np.abs(b - want).max() < 1e-4 and np.abs(a - b).max() > 1e-4
    assert len(list((tmp_path / "onnx").glob("*.onnx"))) == 2  # a second export, for the new weights


@settings(max_examples=25, deadline=None)
@given(st.lists(st.sampled_from(MUTATIONS), min_size=1, max_size=5), st.integers(0, 3))
def test_memoised_digest_always_equals_a_fresh_one(steps, seed):
    net = small_net(seed)
    net.module.eval()
    seen = {infer.weights_digest(net)}
    for mutate in steps:
        mutate(net)
        got = infer.weights_digest(net)
        assert got == fresh_digest(net)
        assert got not in seen  # every mutation above changes some weight
        seen.add(got)


def test_training_moves_the_key_and_the_input_keeps_its_own(tmp_path):
    from deepnodes.dl.convert import Converted
    from deepnodes.dl.losses import LossSpec
    from deepnodes.dl.train import TrainingOptions, train

    net = small_net()
    key = infer.weights_hash(net)
    x = Converted(x_batch(16), torch.float32, "tensor")
    y = Converted(torch.randint(0, 3, (16,), generator=torch.Generator().manual_seed(1)), torch.int64, "class")
    res = train(net, [x], [y], TrainingOptions(epochs=1, batch_size=8, learning_rate=0.05, seed=0),
                [LossSpec("sparse_categorical_crossentropy", from_logits=True)])
    trained = res.network
    assert infer.weights_hash(net) == key == infer.weights_hash(small_net())  # the input is not trained
    assert infer.weights_hash(trained) != key
    assert trained.weights_version > 0 and infer.weights_digest(trained) == fresh_digest(trained)


def test_reader_gives_a_new_key_for_rewritten_weights(tmp_path):
    from deepnodes.dl.formats.native import load_network, save_network

    path = tmp_path / "net.dnn"
    a = small_net(0)
    save_network(a, path, allow_pickle=True)  # a hand-made module: saved (and read) with trust on
    ka = infer.weights_hash(load_network(path, trust=True))
    b = small_net(1)
    save_network(b, path, allow_pickle=True)  # the same file, new weights
    kb = infer.weights_hash(load_network(path, trust=True))
    assert kb != ka and kb == infer.weights_hash(load_network(path, trust=True))
