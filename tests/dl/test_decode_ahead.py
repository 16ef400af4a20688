"""Encoded image columns into the Learner (deepnodes.dl.decode_ahead): the next batch decodes in a background thread
while one trains. The batches are those of an up-front decode (same seed, same weights as Image to Tensor with
scale 'none'), Stop / cancel / a bad image end the thread, and the bad image's sentence names column and row."""
import threading

import numpy as np
import pyarrow as pa
import pytest
import torch
from hypothesis import given, settings, strategies as st
from torch import nn

from deepnodes.core import Cancelled, Engine, Workflow
from deepnodes.dl.convert import Binding, convert
from deepnodes.dl.decode_ahead import BatchFeed, EncodedImages, gather
from deepnodes.dl.network import Network
from deepnodes.dl.options import TrainingOptions
from deepnodes.dl.rng import torch_generator
from deepnodes.dl.spec import NetworkSpec, TensorSpec
from deepnodes.dl.train import LossSpec, TrainingCancelled, train
from deepnodes.table.arrow import encode_png, mark
from deepnodes.table.images import image_to_tensor
from tests.dl.dl_data import FASHION, idx_pair

SPEC = NetworkSpec((TensorSpec("image", (1, 28, 28)),), (TensorSpec("probs", (10,)),))
SCE = [LossSpec("sparse_categorical_crossentropy")]
NOT_AN_IMAGE = b"\x89PNG but cut short"


def encoded_table(images: np.ndarray, labels: np.ndarray, bad: dict[int, bytes] | None = None) -> pa.Table:
    """An 'image' column of PNG bytes (kind 'image', as an image reader gives it) and an integer 'label'."""
    data = [encode_png(im) for im in images]
    for i, b in (bad or {}).items():
        data[i] = b
    schema = pa.schema([mark(pa.field("image", pa.binary()), "image"), pa.field("label", pa.int64())])
    return pa.Table.from_arrays([pa.array(data, pa.binary()), pa.array(labels.astype(np.int64))], schema=schema)


@pytest.fixture(scope="module")
def pngs():
    imgs, labels = idx_pair(str(FASHION), "t10k")
    return encoded_table(imgs[:160], labels[:160])


def cnn():
    return nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Dropout(0.2),
                         nn.Linear(4 * 13 * 13, 10), nn.Softmax(-1))


def net():
    return Network(SPEC, builder=lambda s: cnn(), metadata={"output_activations": ["softmax"]})


def xy(table):
    return ([convert(table, Binding(("image",)), SPEC.inputs[0])],
            [convert(table, Binding(("label",), role="target"), SPEC.outputs[0])])


def no_decode_thread() -> bool:
    return not any(t.name.startswith("decode-ahead") for t in threading.enumerate())


def test_encoded_column_trains_to_the_weights_of_an_up_front_decode(pngs):
    """The same seed gives the same weights whether the images were decoded up front (Image to Tensor, scale
    'none', a uint8 tensor column) or one batch ahead in the background, shuffled, with validation."""
    x, y = xy(pngs)
    assert isinstance(x[0].data, EncodedImages) and x[0].dtype == torch.float32 and len(x[0]) == 160
    decoded = image_to_tensor(pngs, "image", mode="grayscale", scale="none")
    dx, dy = xy(decoded)
    assert dx[0].data.dtype == torch.uint8
    opts = TrainingOptions(epochs=2, batch_size=32, seed=5, learning_rate=0.003)
    vx, vy = xy(pngs.slice(100))
    ahead = train(net(), x, y, opts, SCE, val_x=vx, val_y=vy)
    again = train(net(), x, y, opts, SCE, val_x=vx, val_y=vy)
    up_front = train(net(), dx, dy, opts, SCE, val_x=xy(decoded.slice(100))[0], val_y=vy)
    sa, sb, sc = (r.network.module.state_dict() for r in (ahead, again, up_front))
    for k in sa:
        assert torch.equal(sa[k], sb[k]) and torch.equal(sa[k], sc[k]), k
    assert [h["loss"] for h in ahead.history] == [h["loss"] for h in up_front.history]
    assert ahead.history[-1]["val_loss"] == up_front.history[-1]["val_loss"]
    assert no_decode_thread()


@settings(max_examples=25, deadline=None)
@given(n=st.integers(1, 23), bs=st.integers(1, 9), shuffle=st.booleans(), seed=st.integers(0, 99))
def test_feed_batches_equal_the_inline_decode(n, bs, shuffle, seed):
    """Whatever the row count, batch size and order: each batch the feed hands out (decoded ahead) holds the
    images of exactly its rows, beside a tensor column gathered by the same indices."""
    rng = np.random.default_rng(seed)
    imgs = rng.integers(0, 256, (n, 5, 6), dtype=np.uint8)
    table = encoded_table(imgs, np.arange(n))
    enc = convert(table, Binding(("image",)), TensorSpec("image", (1, 5, 6)))
    ids = convert(table, Binding(("label",), "numbers"), TensorSpec("label", ()))
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed)) if shuffle else None
    threads, decode = [], enc.data.rows
    enc.data.rows = lambda rows, stop=None: (threads.append(threading.current_thread().name), decode(rows, stop))[1]
    feed = BatchFeed([enc, None, ids], torch.device("cpu"))
    feed.epoch(perm, n, bs)
    try:
        for b in range(-(-n // bs)):
            got = feed.get(b)
            lo, hi = b * bs, min(n, (b + 1) * bs)
            rows = perm[lo:hi] if perm is not None else torch.arange(lo, hi)
            want = gather([ids], perm[lo:hi] if perm is not None else None, slice(lo, hi), torch.device("cpu"))
            assert got[1] is None and torch.equal(got[2], want[0]) and torch.equal(got[2], rows.float())
            assert torch.equal(got[0], torch.from_numpy(imgs[rows.numpy()][:, None]).float())
    finally:
        feed.close()
    # the epoch's first batch decodes in the loop's thread, every later one in the background, one ahead
    assert sorted(threads) == sorted(["MainThread"] + ["decode-ahead_0"] * (-(-n // bs) - 1))
    assert no_decode_thread()


def test_bad_image_mid_epoch_names_column_and_table_row(pngs):
    """Row 97 does not decode: training fails when its batch is due, with the sentence naming the column, the
    Learner's option and the table row (not the position in the shuffled batch); the thread ends."""
    imgs, labels = idx_pair(str(FASHION), "t10k")
    bad = encoded_table(imgs[:160], labels[:160], {97: NOT_AN_IMAGE})
    x, y = xy(bad)  # row 0 decodes: nothing is said before training starts
    batches = []
    perm = torch.randperm(160, generator=torch_generator(5, "shuffle"))  # the Learner's shuffle for seed 5
    due = int((perm == 97).nonzero()[0, 0]) // 16
    assert due == 3
    with pytest.raises(ValueError) as e:
        train(net(), x, y, TrainingOptions(epochs=1, batch_size=16, seed=5), SCE,
              check_cancelled=lambda: batches.append(1))
    assert str(e.value) == ("column 'image' (option 'inputs') holds bytes in row 97 that are not an image "
                            "PIL can read")
    assert len(batches) == due + 1  # batches 0-2 trained; batch 3 (decoded ahead) fails when it is due
    assert no_decode_thread()


def test_missing_image_and_wrong_channels_are_sentences(pngs):
    t = pngs.set_column(0, pngs.schema.field(0), pa.array([None] + [b"x"] * 159, pa.binary()))
    with pytest.raises(ValueError, match=r"column 'image' \(option 'inputs'\) has 1 missing value"):
        convert(t, Binding(("image",)), SPEC.inputs[0])
    rgb4 = TensorSpec("image", (4, 28, 28))
    with pytest.raises(ValueError, match=r"holds images of 1×28×28 \(row 0\) but the network input 'image' "
                                         r"expects \(4, 28, 28\)"):
        convert(pngs, Binding(("image",)), rgb4)
    with pytest.raises(ValueError, match="holds images but the network input 'image' expects"):
        convert(pngs, Binding(("image",)), TensorSpec("image", (784,)))
    rgb = convert(pngs.slice(0, 3), Binding(("image",)), TensorSpec("image", (3, 14, 14)))  # converted, resized
    assert rgb.data[0:3].shape == (3, 3, 14, 14)


@pytest.mark.parametrize("how", ["stop", "cancel"])
def test_stop_and_cancel_end_the_decode_thread(pngs, how):
    x, y = xy(pngs)
    seen = []

    def tick():
        seen.append(1)
        if how == "cancel" and len(seen) == 3:
            raise Cancelled()

    opts = TrainingOptions(epochs=3, batch_size=16, seed=2)
    if how == "stop":
        res = train(net(), x, y, opts, SCE, should_stop=lambda: len(seen) >= 3, check_cancelled=tick)
        assert res.stopped == "stop requested" and res.epochs_done == 0
    else:
        with pytest.raises(TrainingCancelled):
            train(net(), x, y, opts, SCE, check_cancelled=tick)
    assert len(seen) == 3 and no_decode_thread()


def test_learner_reads_an_image_folder_without_image_to_tensor(tmp_path):
    """Image Folder Reader -> Network Learner: the encoded column trains to the weights the same workflow with
    an Image to Tensor node (scale 'none') gives; a broken file is one sentence on the Learner."""
    from PIL import Image

    imgs, labels = idx_pair(str(FASHION), "t10k")
    for i in range(48):
        d = tmp_path / "images" / f"c{labels[i] % 3}"
        d.mkdir(parents=True, exist_ok=True)
        Image.fromarray(imgs[i]).resize((20, 20)).save(d / f"{i:03d}.png")

    def workflow(prep: bool) -> Workflow:
        wf = Workflow("folder")
        wf.add("deepnodes.data.ImageFolderReader", "read", {"path": str(tmp_path / "images")})
        src = "read"
        if prep:
            wf.add("deepnodes.data.ImageToTensor", "prep", {"column": "image", "size": [28, 28], "mode": "grayscale",
                                                             "scale": "none"})
            wf.connect("read", "table", "prep", "table")
            src = "prep"
        wf.add("deepnodes.layers.Input", "input", {"shape": [1, 28, 28], "name": "image"})
        wf.add("deepnodes.layers.Flatten", "flat", {})
        wf.add("deepnodes.layers.Dense", "dense", {"units": 3, "activation": "softmax"})
        wf.connect("input", "network", "flat", "input")
        wf.connect("flat", "network", "dense", "input")
        wf.add("deepnodes.dl.NetworkLearner", "learner", {"epochs": 2, "batch_size": 8, "seed": 4,
                                                          "targets": [{"columns": ["class_name"]}]})
        wf.connect("dense", "network", "learner", "network")
        wf.connect(src, "table", "learner", "table")
        return wf

    runs = []
    for prep in (False, True):
        eng = Engine(workflow(prep))
        assert eng.run().ok, {k: s.message for k, s in eng.status.items()}
        runs.append(eng.output("learner").module.state_dict())
    assert all(torch.equal(runs[0][k], runs[1][k]) for k in runs[0])
    sorted((tmp_path / "images" / "c1").iterdir())[2].write_bytes(NOT_AN_IMAGE)
    eng = Engine(workflow(False))
    assert not eng.run().ok
    msg = eng.status["learner"].message
    assert "column 'image' (option 'inputs') holds bytes in row" in msg and "not an image PIL can read" in msg
    assert "\n" not in msg and "Traceback" not in msg and no_decode_thread()


@pytest.mark.parametrize("backend", ["torch", "onnxruntime"])
def test_batch_inference_decodes_an_encoded_column_per_batch(pngs, backend):
    """The Executor's `predict` slices an encoded column batch by batch: the same outputs as the decoded column."""
    from deepnodes.dl.infer import predict

    model = net()
    model.build(seed=0)
    enc = convert(pngs.slice(0, 70), Binding(("image",)), SPEC.inputs[0])
    dec = convert(image_to_tensor(pngs.slice(0, 70), "image", mode="grayscale", scale="none"), Binding(("image",)),
                  SPEC.inputs[0])
    (a,), used = predict(model, [enc], batch_size=32, backend=backend, device="cpu")
    (b,), _ = predict(model, [dec], batch_size=32, backend=backend, device="cpu")
    assert used == backend and a.shape == (70, 10) and np.array_equal(a, b)
