"""The training loop without nodes, on small real Fashion-MNIST slices and hand-made torch modules."""
import math

import pytest
import torch
from torch import nn

from deepnodes.core import Cancelled
from deepnodes.dl.convert import Binding, convert
from deepnodes.dl.network import Network
from deepnodes.dl.options import TrainingOptions
from deepnodes.dl.spec import NetworkSpec, TensorSpec
from deepnodes.dl.train import LossFn, LossSpec, TrainingCancelled, TrainingError, history_table, train
from tests.dl.dl_data import fashion

SPEC = NetworkSpec((TensorSpec("image", (1, 28, 28)),), (TensorSpec("probs", (10,)),))


def mlp():
    return nn.Sequential(nn.Flatten(), nn.Linear(784, 64), nn.ReLU(), nn.Dropout(0.2), nn.Linear(64, 10),
                         nn.Softmax(-1))


def net(builder=mlp, **md):
    return Network(SPEC, builder=lambda s: builder(), metadata={"output_activations": ["softmax"], **md})


@pytest.fixture(scope="module")
def data():
    tr, va = fashion(1500), fashion(500, 1500)
    conv = lambda t: ([convert(t, Binding(("image",)), SPEC.inputs[0])],  # noqa: E731
                      [convert(t, Binding(("label",), role="target"), SPEC.outputs[0])])
    return conv(tr), conv(va)


SCE = [LossSpec("sparse_categorical_crossentropy")]


def weights(result):
    return [p.detach().clone() for p in result.network.module.parameters()]


def same(a, b):
    return all(torch.equal(x, y) for x, y in zip(a, b))


def test_learns_well_above_chance_and_keeps_input_network(data):
    (x, y), (vx, vy) = data
    n0 = net()
    r = train(n0, x, y, TrainingOptions(epochs=3, batch_size=64), SCE, val_x=vx, val_y=vy)
    assert not n0.built  # the learner trains a copy
    assert [h["epoch"] for h in r.history] == [1, 2, 3]
    assert r.history[-1]["val_accuracy"] > 0.65  # chance is 0.10
    assert r.history[-1]["loss"] < r.history[0]["loss"]
    assert r.network.metadata["seed"] == 42 and len(r.network.metadata["history"]) == 3
    t = history_table(r.history)
    assert t.num_rows == 3 and {"loss", "accuracy", "val_loss", "val_accuracy", "lr"} <= set(t.column_names)


def test_same_seed_same_weights_other_seed_other_weights(data):
    (x, y), _ = data
    o = TrainingOptions(epochs=1, batch_size=100, seed=7)
    a = weights(train(net(), x, y, o, SCE))
    b = weights(train(net(), x, y, o, SCE))
    c = weights(train(net(), x, y, o.model_copy(update={"seed": 8}), SCE))
    assert same(a, b)
    assert not same(a, c)


def test_last_partial_batch_is_used_as_it_is(data):
    (x, y), _ = data
    xs = [type(x[0])(x[0].data[:10], x[0].dtype, "tensor")]
    ys = [type(y[0])(y[0].data[:10], y[0].dtype, "class_index")]
    seen = []
    train(net(), xs, ys, TrainingOptions(epochs=1, batch_size=4, metrics_interval=0), SCE,
          on_batch=lambda e: seen.append(e["batch"]))
    assert seen == [1, 2, 3]


def test_early_stopping_restores_best_weights(data):
    (x, y), (vx, vy) = data
    # a min_delta no epoch can beat: epoch 1 is the best, patience 1 -> stops after epoch 2 (as Keras does)
    o = TrainingOptions(epochs=10, batch_size=100, early_stopping=True, min_delta=1e9, patience=1)
    r = train(net(), x, y, o, SCE, val_x=vx, val_y=vy)
    assert len(r.history) == 2 and r.stopped == "early stopping" and r.best_epoch == 1
    one = train(net(), x, y, o.model_copy(update={"epochs": 1, "early_stopping": False}), SCE)
    assert same(weights(r), weights(one))


def test_stop_keeps_current_model(data):
    (x, y), _ = data
    calls = {"n": 0}

    def stop():
        calls["n"] += 1
        return calls["n"] > 20

    n0 = net()
    r = train(n0, x, y, TrainingOptions(epochs=5, batch_size=50), SCE, should_stop=stop)
    assert r.stopped == "stop requested"
    assert len(r.history) == 1 and r.history[0].get("partial")  # 30 batches an epoch: stopped inside epoch 1
    init = net()
    torch.manual_seed(42)
    init_w = [p.detach() for p in init.module.parameters()]
    assert not same(weights(r), init_w)  # 20 steps were taken and kept


def test_cancel_keeps_last_complete_epoch(data):
    (x, y), _ = data
    o = TrainingOptions(epochs=3, batch_size=100)
    calls = {"n": 0}

    def check():
        calls["n"] += 1
        if calls["n"] == 15 + 5:  # 15 batches an epoch: cancel in the middle of epoch 2
            raise Cancelled()

    with pytest.raises(TrainingCancelled) as ei:
        train(net(), x, y, o, SCE, check_cancelled=check)
    assert isinstance(ei.value, Cancelled)
    res = ei.value.result
    assert len(res.history) == 1
    one = train(net(), x, y, o.model_copy(update={"epochs": 1}), SCE)
    assert same(weights(res), weights(one))


def test_frozen_layers_stay_unchanged_and_head_gets_its_own_lr(data):
    (x, y), _ = data
    n0 = net(frozen=["1"])  # nn.Sequential: layer "1" is the first Linear
    torch.manual_seed(42)
    before = n0.module[1].weight.detach().clone()
    r = train(n0, x, y, TrainingOptions(epochs=1, batch_size=100, head_layers=["4"], head_learning_rate=0.01), SCE)
    assert torch.equal(r.network.module[1].weight, before)
    assert not torch.equal(r.network.module[4].weight, n0.module[4].weight)


def test_frozen_batchnorm_keeps_statistics(data):
    (x, y), _ = data

    def bn_net():
        return nn.Sequential(nn.Flatten(), nn.BatchNorm1d(784), nn.Linear(784, 10), nn.Softmax(-1))

    n0 = net(bn_net, frozen=["1"])
    r = train(n0, x, y, TrainingOptions(epochs=1, batch_size=100), SCE)
    assert torch.equal(r.network.module[1].running_mean, torch.zeros(784))
    r2 = train(n0, x, y, TrainingOptions(epochs=1, batch_size=100, freeze_batchnorm=False), SCE)
    assert not torch.equal(r2.network.module[1].running_mean, torch.zeros(784))


@pytest.mark.parametrize("opt", ["sgd", "adam", "adamw", "rmsprop", "adagrad", "adadelta", "adamax", "nadam"])
def test_every_optimizer_lowers_the_loss(data, opt):
    (x, y), _ = data
    lr = {"adadelta": 1.0, "sgd": 0.1, "adagrad": 0.05}.get(opt, 0.003)
    o = TrainingOptions(epochs=2, batch_size=50, optimizer=opt, learning_rate=lr, momentum=0.9 if opt == "sgd" else 0,
                        nesterov=opt == "sgd", clipnorm=5.0)
    r = train(net(), x, y, o, SCE)
    assert r.history[1]["loss"] < r.history[0]["loss"] and r.history[1]["loss"] < math.log(10)


def test_reduce_lr_on_plateau_and_keep_best(data):
    (x, y), _ = data
    o = TrainingOptions(epochs=3, batch_size=100, reduce_lr_on_plateau=True, min_delta=1e9, lr_patience=0,
                        lr_factor=0.5, keep_best=True, monitor="loss")
    r = train(net(), x, y, o, SCE)
    # epoch 1 improves; epochs 2 and 3 do not, each halves the LR used from the next epoch on
    assert [h["lr"] for h in r.history] == [0.001, 0.001, 0.0005]
    assert r.best_epoch == 1


def test_nan_loss_is_a_clear_error(data):
    (x, y), _ = data
    spec = NetworkSpec((TensorSpec("image", (1, 28, 28)),), (TensorSpec("y", (1,)),))
    reg = Network(spec, module=nn.Sequential(nn.Flatten(), nn.Linear(784, 1)))
    target = y[0].data.float().unsqueeze(1) * 1e6
    with pytest.raises(TrainingError, match="the loss became (nan|inf)"):
        train(reg, x, [target], TrainingOptions(epochs=3, batch_size=50, optimizer="sgd", learning_rate=10.0),
              [LossSpec("mse")])


def test_monitor_names_a_missing_metric(data):
    (x, y), _ = data
    with pytest.raises(TrainingError, match="option 'monitor'"):
        train(net(), x, y, TrainingOptions(epochs=1, batch_size=500, early_stopping=True, monitor="val_f1"), SCE)


class TwoInTwoOut(nn.Module):
    """Image + one number in; class probabilities and a regression out."""

    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(nn.Flatten(), nn.Linear(784, 32), nn.ReLU())
        self.cls = nn.Linear(33, 10)
        self.reg = nn.Linear(33, 1)

    def forward(self, img, num):
        h = torch.cat([self.body(img), num], 1)
        return self.cls(h), self.reg(h)


def test_two_inputs_two_outputs(data):
    (x, y), _ = data
    spec = NetworkSpec((TensorSpec("image", (1, 28, 28)), TensorSpec("num", (1,))),
                       (TensorSpec("logits", (10,)), TensorSpec("mean", (1,))))
    mean = x[0].data.reshape(len(x[0].data), -1).mean(1, keepdim=True)
    r = train(Network(spec, module=TwoInTwoOut()), [x[0], mean], [y[0], mean],
              TrainingOptions(epochs=2, batch_size=50),
              [LossSpec("sparse_categorical_crossentropy", from_logits=True), LossSpec("mse", weight=2.0)])
    h = r.history[-1]
    assert {"loss_logits", "loss_mean", "accuracy"} <= set(h)
    assert h["accuracy"] > 0.3  # chance: 0.1
    assert h["loss"] == pytest.approx(h["loss_logits"] + 2 * h["loss_mean"], rel=1e-4)


# ---------------------------------------------------------------------------- losses against references
def _fn(name, **kw):
    return LossFn(LossSpec(name, **kw), kw.get("from_logits", False), "cpu")


def test_losses_match_references():
    torch.manual_seed(0)
    logits = torch.randn(8, 5)
    p = logits.softmax(-1)
    t = torch.randint(0, 5, (8,))
    oh = nn.functional.one_hot(t, 5).float()
    ref = nn.functional.cross_entropy(logits, t)
    assert _fn("sparse_categorical_crossentropy")(p, t)[0] == pytest.approx(float(ref), rel=1e-5)
    assert _fn("sparse_categorical_crossentropy", from_logits=True)(logits, t)[0] == pytest.approx(float(ref), rel=1e-5)
    assert _fn("categorical_crossentropy")(p, oh)[0] == pytest.approx(float(ref), rel=1e-5)
    # label smoothing: the probability path agrees with torch's fused one
    sm = nn.functional.cross_entropy(logits, t, label_smoothing=0.1)
    assert _fn("sparse_categorical_crossentropy", label_smoothing=0.1)(p, t)[0] == pytest.approx(float(sm), rel=1e-5)
    # class weights: torch's weighted mean
    w = [1, 2, 3, 4, 5]
    wref = nn.functional.cross_entropy(logits, t, weight=torch.tensor(w, dtype=torch.float32))
    assert _fn("sparse_categorical_crossentropy", class_weights=w)(p, t)[0] == pytest.approx(float(wref), rel=1e-5)
    assert _fn("categorical_crossentropy", class_weights=w)(p, oh)[0] == pytest.approx(float(wref), rel=1e-5)
    s = torch.sigmoid(logits[:, :1])
    bt = (t[:, None] > 2).float()
    bref = nn.functional.binary_cross_entropy_with_logits(logits[:, :1], bt)
    assert _fn("binary_crossentropy")(s, bt)[0] == pytest.approx(float(bref), rel=1e-4)
    a, b = torch.randn(8, 3), torch.randn(8, 3)
    assert _fn("mse")(a, b)[0] == pytest.approx(float(((a - b) ** 2).mean()), rel=1e-5)
    assert _fn("mae")(a, b)[0] == pytest.approx(float((a - b).abs().mean()), rel=1e-5)
    assert _fn("huber")(a, b)[0] == pytest.approx(float(nn.functional.huber_loss(a, b)), rel=1e-5)
    q = torch.rand(8, 3).softmax(-1)
    assert _fn("kl_divergence")(p[:, :3].softmax(-1), q)[0] >= 0
    assert _fn("kl_divergence")(q, q)[0] == pytest.approx(0, abs=1e-6)
    rate = torch.rand(8, 1) + 0.5
    cnt = torch.poisson(rate)
    assert _fn("poisson")(rate, cnt)[0] == pytest.approx(float((rate - cnt * torch.log(rate + 1e-7)).mean()), rel=1e-5)
    assert _fn("cosine_similarity")(a, a)[0] == pytest.approx(-1.0, rel=1e-5)


def test_sequence_loss_masks_padding():
    torch.manual_seed(0)
    logits = torch.randn(2, 4, 6)
    t = torch.tensor([[3, 1, 0, 0], [2, 5, 4, 0]])  # 0 = padding
    fn = _fn("sparse_categorical_crossentropy", from_logits=True, ignore_index=0)
    loss, correct, counted = fn(logits, t)
    keep = t != 0
    ref = nn.functional.cross_entropy(logits[keep], t[keep])
    assert float(loss) == pytest.approx(float(ref), rel=1e-5) and int(counted) == 5
    changed = logits.clone()
    changed[~keep] = 100 * torch.randn_like(changed[~keep])  # predictions at padded steps do not matter
    assert float(fn(changed, t)[0]) == pytest.approx(float(loss), rel=1e-6)
    smooth = _fn("sparse_categorical_crossentropy", ignore_index=0, label_smoothing=0.1)(logits.softmax(-1), t)[0]
    ref_s = nn.functional.cross_entropy(logits[keep], t[keep], label_smoothing=0.1)
    assert float(smooth) == pytest.approx(float(ref_s), rel=1e-5)


class CharLSTM(nn.Module):
    def __init__(self, vocab):
        super().__init__()
        self.emb = nn.Embedding(vocab, 16)
        self.lstm = nn.LSTM(16, 64, batch_first=True)
        self.out = nn.Linear(64, vocab)

    def forward(self, x):
        return self.out(self.lstm(self.emb(x))[0])  # (N, T, V) logits


def test_character_lstm_with_padded_sequence_targets():
    """Per-step sparse cross-entropy on real text (the Debian de-en dictionary), padding (id 0) masked."""
    import pyarrow as pa

    from deepnodes.table.arrow import token_array

    path = "/usr/share/trans/de-en"
    try:
        text = open(path, encoding="utf-8", errors="ignore").read(15000)
    except OSError:
        pytest.skip(f"{path} is not installed")
    chars = sorted(set(text))
    ids = [chars.index(c) + 1 for c in text]  # 0 is padding
    seqs = [ids[i:i + 41] for i in range(0, len(ids) - 41, 41)]
    seqs = [s[: 20 + (k % 21)] for k, s in enumerate(seqs)]  # ragged lengths 20..40: padding needed
    t = pa.table({"x": token_array([s[:-1] for s in seqs]), "y": token_array([s[1:] for s in seqs])})
    v = len(chars) + 1
    spec = NetworkSpec((TensorSpec("x", (None,), "int64"),), (TensorSpec("logits", (None, v)),))
    x = convert(t, Binding(("x",)), spec.inputs[0])
    y = convert(t, Binding(("y",), role="target"), spec.outputs[0])
    assert x.converter == "tokens" and (x.data == 0).any()
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # a tiny LSTM: on a busy 2-core machine two spinning threads made it 25x slower
    try:
        r = train(Network(spec, module=CharLSTM(v)), [x], [y],
                  TrainingOptions(epochs=3, batch_size=32, learning_rate=0.02),
                  [LossSpec("sparse_categorical_crossentropy", from_logits=True, ignore_index=0)])
    finally:
        torch.set_num_threads(threads)
    assert r.history[-1]["loss"] < r.history[0]["loss"] < math.log(v)
    assert r.history[-1]["accuracy"] > 0.25  # next-character accuracy; the first epoch (~chance of the commonest) is ~0.15
