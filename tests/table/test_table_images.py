"""Images → tensors on real images (MNIST digits, scikit-image's astronaut and coffee)."""
import io

import numpy as np
import pyarrow as pa
import pytest
from PIL import Image

from deepnodes.datasets import load_dataset
from deepnodes.table.arrow import encode_png, mark, spec_of, to_numpy
from deepnodes.table.images import image_to_tensor, image_to_tensor_spec


def _encoded_table(images):
    data = [encode_png(im) for im in images]
    field = mark(pa.field("image", pa.binary()), "image")
    return pa.Table.from_arrays([pa.array(data, pa.binary())], schema=pa.schema([field]))


@pytest.fixture
def mnist(mnist_dir):
    return load_dataset("mnist", "test", str(mnist_dir), limit=64)


def test_encoded_png_decodes_to_the_same_pixels(mnist):
    x = to_numpy(mnist.column("image"))  # (64, 1, 28, 28) uint8
    t = _encoded_table(list(x[:, 0]))
    out = image_to_tensor(t, "image", scale="none")
    np.testing.assert_array_equal(to_numpy(out.column("image")), x)
    configured = image_to_tensor_spec(spec_of(t), "image", scale="none").column("image")
    assert (configured.kind, configured.dtype, configured.shape) == ("tensor", "uint8", (None, None, None))
    unit = to_numpy(image_to_tensor(t, "image", scale="unit").column("image"))
    assert unit.dtype == np.float32 and unit.max() == 1.0 and unit.min() == 0.0
    np.testing.assert_allclose(unit, x / 255.0, atol=1e-6)
    sym = to_numpy(image_to_tensor(t, "image", scale="symmetric").column("image"))
    assert sym.min() == -1.0 and sym.max() == 1.0


def test_resize_and_rgb_from_encoded_images_match_pil(mnist):
    x = to_numpy(mnist.column("image"))[:8, 0]
    t = _encoded_table(list(x))
    out = image_to_tensor(t, "image", "tensor", size=(14, 20), mode="rgb", scale="none")
    got = to_numpy(out.column("tensor"))
    assert got.shape == (8, 3, 14, 20)
    want = np.asarray(Image.fromarray(x[3]).convert("RGB").resize((20, 14), Image.BILINEAR)).transpose(2, 0, 1)
    np.testing.assert_array_equal(got[3], want)
    assert spec_of(out) == image_to_tensor_spec(spec_of(t), "image", "tensor", (14, 20), "rgb", "none")


def test_tensor_column_resize_grayscale_vectorised_close_to_pil():
    from skimage import data

    rgb = np.stack([data.astronaut()[:256, :256], data.coffee()[:256, :256]])  # (2, 256, 256, 3)
    t = pa.table({"image": pa.FixedShapeTensorArray.from_numpy_ndarray(np.ascontiguousarray(rgb.transpose(0, 3, 1, 2)))})
    out = image_to_tensor(t, "image", size=(64, 48), mode="grayscale", scale="none")
    got = to_numpy(out.column("image"))
    assert got.shape == (2, 1, 64, 48) and got.dtype == np.uint8
    for i in range(2):
        want = np.asarray(Image.fromarray(rgb[i]).convert("L").resize((48, 64), Image.BILINEAR)).astype(int)
        assert np.abs(got[i, 0].astype(int) - want).mean() < 2.0  # same filter family, different rounding
    assert spec_of(out) == image_to_tensor_spec(spec_of(t), "image", size=(64, 48), mode="grayscale", scale="none")


def test_images_of_different_sizes_need_the_size_option():
    imgs = [np.zeros((10, 10), np.uint8), np.zeros((12, 10), np.uint8)]
    t = _encoded_table(imgs)
    with pytest.raises(ValueError) as e:
        image_to_tensor(t, "image")
    assert str(e.value) == ("column 'image' (option 'column') holds images of different sizes or channels "
                            "(1×10×10 in row 0, 1×12×10 in row 1); set option 'size' and option 'mode' to make them alike")
    assert to_numpy(image_to_tensor(t, "image", size=(8, 8)).column("image")).shape == (2, 1, 8, 8)


def test_broken_image_bytes_are_reported_with_the_row():
    field = mark(pa.field("image", pa.binary()), "image")
    t = pa.Table.from_arrays([pa.array([encode_png(np.zeros((4, 4), np.uint8)), b"not a png"])], schema=pa.schema([field]))
    with pytest.raises(ValueError, match=r"^column 'image' \(option 'column'\) holds bytes in row 1 that are not an image"):
        image_to_tensor(t, "image")
