"""The pretrained catalogue (EfficientNet-Lite0 with ImageNet weights), surgery and image preparation."""
from __future__ import annotations

import sys
import textwrap

import numpy as np
import pyarrow as pa
import pytest
import torch

from deepnodes.dl import pretrained
from deepnodes.dl.pretrained import CatalogueEntry, MissingPackage, load_pretrained, pretrained_spec
from deepnodes.dl.surgery import apply_spec, freeze_spec, frozen_names, outputs_spec
from deepnodes.table.arrow import encode_png, mark, tensor_array, to_numpy
from deepnodes.table.image_prep import prepare_images


def images(pngs: list[bytes]) -> pa.Table:
    """A table with an encoded-image column, as the image readers make."""
    return pa.Table.from_arrays([pa.array(pngs, pa.binary())], schema=pa.schema([mark(pa.field("image", pa.binary()),
                                                                                       "image")]))


@pytest.fixture(scope="module")
def effnet():
    return load_pretrained("efficientnet-lite0")


@pytest.fixture(scope="module")
def cat_table():
    from skimage import data

    return images([encode_png(data.chelsea())])


def _prepared(net, table):
    pre = net.metadata["preprocessing"]
    return prepare_images(table, "image", size=pre["size"], crop_fraction=pre["crop_fraction"], mean=pre["mean"],
                          std=pre["std"])


def test_chelsea_is_a_cat_with_onnx_runtime_and_torch(effnet, cat_table):
    from deepnodes.dl.infer import predict, predictions_table

    x = to_numpy(_prepared(effnet, cat_table).column("image"))
    assert x.shape == (1, 3, 224, 224) and x.dtype == np.float32
    for backend in ("torch", "auto"):
        (probs,), used = predict(effnet, [torch.from_numpy(x.copy())], backend=backend)
        top = int(probs[0].argmax())
        assert 281 <= top <= 285, (backend, top, effnet.metadata["class_names"][top])
        assert abs(float(probs[0].sum()) - 1) < 1e-4
    assert used == "onnxruntime"  # the chain of parts exports cleanly
    out = predictions_table(cat_table, effnet, [probs], ["probabilities"], [0])
    assert out.column("prediction")[0].as_py() in ("tabby", "tiger cat", "Persian cat", "Siamese cat", "Egyptian cat")
    assert out.column("probability")[0].as_py() > 0.3


def test_class_names_are_the_1000_imagenet_classes(effnet):
    names = effnet.metadata["class_names"]
    assert len(names) == 1000 and len(set(names)) == 1000
    assert names[0] == "tench" and names[281] == "tabby" and names[285] == "Egyptian cat"


def test_spec_before_loading_matches_the_loaded_network():
    for opts, shape in (({}, (1000,)), ({"include_top": False}, (1280,)),
                        ({"include_top": False, "pooling": "none"}, (1280, 7, 7))):
        spec = pretrained_spec("efficientnet-lite0", **opts)
        assert spec.inputs[0].shape == (3, 224, 224) and spec.outputs[0].shape == shape
        net = load_pretrained("efficientnet-lite0", **opts)
        assert net.spec == spec
        with torch.no_grad():
            assert tuple(net.forward(torch.zeros(1, 3, 224, 224))[0].shape[1:]) == shape
    assert "class_names" not in load_pretrained("efficientnet-lite0", include_top=False).metadata


def test_missing_package_and_unknown_name_say_what_to_do():
    entry = pretrained.register(CatalogueEntry("needs-plugin", "test", lambda: None,
                                               {"deepnodes_no_such_pkg": "deepnodes-no-such-pkg"}))
    try:
        with pytest.raises(MissingPackage) as e:
            load_pretrained("needs-plugin")
        assert str(e.value) == ("pretrained network 'needs-plugin' needs the package 'deepnodes-no-such-pkg', which "
                                "is not installed; install it with: pip install deepnodes-no-such-pkg")
        assert entry.to_json()["installed"] is False
    finally:
        pretrained._BUILTIN.pop("needs-plugin")
    with pytest.raises(ValueError, match="there is no pretrained network 'resnet-9000'; the catalogue has "
                                         "'efficientnet-lite0'"):
        load_pretrained("resnet-9000")


def test_plugins_add_entries_through_entry_points(tmp_path, monkeypatch):
    (tmp_path / "dn_test_plugin.py").write_text(textwrap.dedent("""\
        from deepnodes.dl.pretrained import CatalogueEntry, load_efficientnet_lite0
        ENTRY = CatalogueEntry("lite0-features", "EfficientNet-Lite0 features",
                               lambda: load_efficientnet_lite0(include_top=False))
        """))
    dist = tmp_path / "dn_test_plugin-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: dn-test-plugin\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text("[deepnodes.pretrained]\nlite0-features = dn_test_plugin:ENTRY\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert "lite0-features" in pretrained.catalogue()
    net = load_pretrained("lite0-features")
    assert net.spec.outputs[0].shape == (1280,) and net.metadata["source"] == "pretrained:lite0-features"
    sys.modules.pop("dn_test_plugin", None)


# --------------------------------------------------------------------------- surgery
def test_feature_extractor_matches_the_network_without_top(effnet, cat_table):
    x = torch.from_numpy(to_numpy(_prepared(effnet, cat_table).column("image")).copy())
    spec = outputs_spec(effnet.spec, ["avg_pool"])
    assert spec.outputs[0].shape == (1280,) and spec.layers[-1].name == "avg_pool"  # the classifier is pruned
    feats = apply_spec(effnet, spec)
    with torch.no_grad():
        a = feats.forward(x)[0]
        b = load_pretrained("efficientnet-lite0", include_top=False).forward(x)[0]
    torch.testing.assert_close(a, b)
    # two outputs: an intermediate feature map and the probabilities
    both = outputs_spec(effnet.spec, ["block_16", "predictions_softmax"])
    with torch.no_grad():
        fm, probs = apply_spec(effnet, both).forward(x)
    assert fm.shape == (1, 320, 7, 7) and probs.shape == (1, 1000)
    with pytest.raises(ValueError, match="layer 'block_99' \\(option 'layers'\\) is not in the network"):
        outputs_spec(effnet.spec, ["block_99"])


def test_freeze_modes_select_layers_with_weights(effnet):
    spec = freeze_spec(effnet.spec, "all_but_last", last_n=2)
    assert frozen_names(spec)[-1] == "block_16" and "top" not in frozen_names(spec)
    assert frozen_names(freeze_spec(effnet.spec, "pattern", pattern="block_1?")) == [f"block_{i}" for i in range(10, 17)]
    assert frozen_names(freeze_spec(effnet.spec, "pattern", pattern="block_[1-3]", syntax="regex")) == \
        ["block_1", "block_2", "block_3"]
    assert frozen_names(freeze_spec(effnet.spec, "names", names=["stem", "top"])) == ["stem", "top"]
    everything = freeze_spec(effnet.spec, "all")
    assert len(frozen_names(everything)) == 19  # stem, 16 blocks, top, predictions
    back = freeze_spec(everything, "names", names=["top"], freeze=False)
    assert "top" not in frozen_names(back)
    with pytest.raises(ValueError, match="matches no layer with weights"):
        freeze_spec(effnet.spec, "pattern", pattern="dense_*")
    with pytest.raises(ValueError, match="layer 'nope' \\(option 'layers'\\) is not in the network"):
        freeze_spec(effnet.spec, "names", names=["nope"])


def test_learner_leaves_frozen_layers_and_batchnorm_statistics_alone(effnet):
    from deepnodes.dl.train import LossSpec, TrainingError, train
    from deepnodes.dl.options import TrainingOptions

    feats = apply_spec(effnet, freeze_spec(outputs_spec(effnet.spec, ["top"]), "all_but_last", last_n=1))
    # a tiny problem: 6 random images, targets = a random projection of the top features
    rng = np.random.default_rng(0)
    x = torch.from_numpy(rng.normal(size=(6, 3, 224, 224)).astype(np.float32))
    y = torch.from_numpy(rng.normal(size=(6, 1280, 7, 7)).astype(np.float32))
    before = {k: v.clone() for k, v in feats.module.state_dict().items()}
    res = train(feats, [x], [y], TrainingOptions(epochs=1, batch_size=3, learning_rate=1e-3, seed=0),
                [LossSpec("mse")])
    after = res.network.module.state_dict()
    changed = {k for k in before if not torch.equal(before[k], after[k])}
    assert changed and all(k.startswith("top.") for k in changed), sorted(changed)[:5]
    # BatchNorm statistics of frozen blocks stay (freeze_batchnorm is on by default)
    assert not any("running_mean" in k and not k.startswith("top.") for k in changed)
    # the input network is unchanged
    assert all(torch.equal(before[k], v) for k, v in feats.module.state_dict().items())
    frozen = apply_spec(effnet, freeze_spec(effnet.spec, "all"))
    with pytest.raises(TrainingError, match="every layer is frozen"):
        train(frozen, [x[:2]], [torch.zeros(2, dtype=torch.int64)], TrainingOptions(epochs=1),
              [LossSpec("sparse_categorical_crossentropy")])


# --------------------------------------------------------------------------- image preparation
def test_prepare_images_resizes_crops_and_normalises():
    from skimage import data

    img = data.astronaut()  # 512 × 512 RGB
    t = images([encode_png(img), encode_png(img[:256])])
    out = prepare_images(t, "image", output_column="x", size=(224, 224), crop_fraction=0.875,
                         mean=(0.5, 0.5, 0.5), std=(0.25, 0.25, 0.25))
    x = to_numpy(out.column("x"))
    assert x.shape == (2, 3, 224, 224)
    # a 512×512 image: shorter side to 256, centre crop 224; compare with PIL by hand
    from PIL import Image

    ref = np.asarray(Image.fromarray(img).resize((256, 256), Image.BILINEAR), np.float32)[16:240, 16:240] / 255
    np.testing.assert_allclose(x[0].transpose(1, 2, 0), (ref - 0.5) / 0.25, atol=1e-4)
    # grayscale uint8 tensors (the lfw-faces dataset) become RGB
    faces = pa.table({"image": tensor_array(np.full((3, 1, 25, 25), 255, np.uint8))})
    y = to_numpy(prepare_images(faces, "image", size=(224, 224), crop_fraction=1.0).column("image"))
    assert y.shape == (3, 3, 224, 224) and np.allclose(y, 1.0)
    with pytest.raises(ValueError, match="option 'crop_fraction' is 1.5"):
        prepare_images(faces, "image", crop_fraction=1.5)
    bad = images([b"not an image"])
    with pytest.raises(ValueError, match="row 0 that are not an image"):
        prepare_images(bad, "image")
