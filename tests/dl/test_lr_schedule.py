"""The Learner's learning-rate schedules (`lr_schedule`, `warmup`): the rate each batch trains with follows the
named curve (one_cycle against torch's own OneCycleLR), head_learning_rate keeps its ratio, one seed gives one
result, a resumed run continues the schedule where its checkpoint left it, and a clash is one clear sentence."""
import copy
import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from deepnodes.dl.optim import lr_factor, make_lr_schedule
from deepnodes.dl.options import TrainingOptions
from deepnodes.dl.train import TrainingError, train
from tests.dl.test_dl_train import SCE, net, same, weights
from tests.dl.test_dl_train import data as train_data


@pytest.fixture(scope="module")
def data():
    return train_data.__wrapped__()


def _opt(lr=0.01):
    return torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=lr)


def _rates(opts, total):
    """The learning rate of each of `total` optimizer steps under our schedule."""
    opt = _opt(opts.learning_rate)
    sched = make_lr_schedule(opts, opt, total)
    out = []
    for _ in range(total):
        out.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    return out


@settings(max_examples=40, deadline=None)
@given(total=st.integers(2, 400), lr=st.floats(1e-4, 1.0), warm=st.one_of(st.none(), st.floats(0.05, 0.9)))
def test_one_cycle_is_torchs_one_cycle_curve(total, lr, warm):
    opts = TrainingOptions(learning_rate=lr, lr_schedule="one_cycle", warmup=warm)
    pct = 0.3 if warm is None else warm
    if float(pct * total) - 1 == 0:  # torch's warm-up phase has no length there: its OneCycleLR divides by zero
        assert all(0 <= r <= lr for r in _rates(opts, total))
        return
    ref_opt = _opt(lr)
    ref = torch.optim.lr_scheduler.OneCycleLR(ref_opt, max_lr=lr, total_steps=total, cycle_momentum=False,
                                              pct_start=0.3 if warm is None else warm)
    want = []
    for _ in range(total):
        want.append(ref_opt.param_groups[0]["lr"])
        ref_opt.step()
        ref.step()
    assert _rates(opts, total) == pytest.approx(want, rel=1e-9, abs=1e-15)


@settings(max_examples=40, deadline=None)
@given(total=st.integers(1, 500), lr=st.floats(1e-4, 1.0), warm=st.floats(0.0, 0.9))
def test_cosine_rises_through_the_warmup_then_falls_to_zero(total, lr, warm):
    rates = _rates(TrainingOptions(learning_rate=lr, lr_schedule="cosine", warmup=warm), total)
    w = min(int(round(warm * total)), total - 1)  # a warm-up never takes every step: the peak is reached
    rise, fall = rates[:w + 1], rates[w:]
    assert all(a < b for a, b in zip(rise, rise[1:]))
    assert all(a >= b for a, b in zip(fall, fall[1:]))
    assert max(rates) == pytest.approx(lr) and min(rates) >= 0
    if w < total:
        assert rates[w] == pytest.approx(lr)
        expected_last = 0.5 * (1 + math.cos(math.pi * (total - 1 - w) / max(1, total - w))) * lr
        assert rates[-1] == pytest.approx(expected_last, abs=1e-12)


def test_none_keeps_the_rate():
    assert lr_factor(TrainingOptions(), 100) is None
    assert _rates(TrainingOptions(learning_rate=0.02), 7) == [0.02] * 7


def test_training_steps_with_the_schedule_and_head_keeps_its_ratio(data):
    (x, y), _ = data
    seen = []
    o = TrainingOptions(epochs=2, batch_size=100, learning_rate=0.004, lr_schedule="one_cycle", metrics_interval=0,
                        head_layers=["4"], head_learning_rate=0.04)
    r = train(net(), x, y, o, SCE, on_batch=lambda ev: seen.append((ev["step"], ev["values"]["lr"])))
    total = 2 * 15  # 1500 rows, batches of 100
    f = lr_factor(o, total)
    assert [s for s, _ in seen] == list(range(1, total + 1))
    assert [lr for _, lr in seen] == pytest.approx([0.004 * f(s) for s, _ in seen])
    assert r.history[0]["lr"] == pytest.approx(0.004 * f(15))
    assert r.history[0]["accuracy"] < r.history[1]["accuracy"]


def test_one_seed_one_result_and_the_schedule_changes_it(data):
    (x, y), _ = data
    o = TrainingOptions(epochs=1, batch_size=100, lr_schedule="cosine", warmup=0.2, seed=3)
    a, b = weights(train(net(), x, y, o, SCE)), weights(train(net(), x, y, o, SCE))
    c = weights(train(net(), x, y, o.model_copy(update={"lr_schedule": "none"}), SCE))
    assert same(a, b) and not same(a, c)


def test_schedule_and_reduce_lr_on_plateau_is_one_clear_sentence(data):
    (x, y), _ = data
    o = TrainingOptions(epochs=1, lr_schedule="cosine", reduce_lr_on_plateau=True)
    with pytest.raises(TrainingError, match="option 'lr_schedule'.*'reduce_lr_on_plateau'"):
        train(net(), x, y, o, SCE)


def test_a_resumed_run_continues_the_schedule(data, tmp_path):
    """A worker group restarted from epoch 1's checkpoint ends with the uninterrupted run's weights and rates."""
    import torch.distributed as tdist

    from deepnodes.dl.distributed.hooks import WorkerHooks

    (x, y), _ = data
    o = TrainingOptions(epochs=2, batch_size=100, lr_schedule="one_cycle", learning_rate=0.005)
    tdist.init_process_group("gloo", init_method=f"file://{tmp_path / 'pg'}", rank=0, world_size=1)
    try:
        saved = {}
        keep = lambda state, epoch: saved.setdefault(epoch, copy.deepcopy(state))  # noqa: E731  (it is live)
        full = train(net(), x, y, o, SCE, dist=WorkerHooks(0, 1, on_checkpoint=keep))
        resumed = train(net(), x, y, o, SCE, dist=WorkerHooks(0, 1, resume_state=saved[1]))
    finally:
        tdist.destroy_process_group()
    assert [h["lr"] for h in resumed.history] == pytest.approx([h["lr"] for h in full.history])
    assert same(weights(full), weights(resumed))
