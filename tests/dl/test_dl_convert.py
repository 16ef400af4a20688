"""Table -> tensor converters and their configure-time checks, on real Fashion-MNIST slices."""
import numpy as np
import pyarrow as pa
import pytest
import torch

from deepnodes.dl.convert import Binding, bind, check_binding, convert, pad_tokens
from deepnodes.dl.spec import TensorSpec
from deepnodes.table.arrow import spec_of, tensor_array, token_array
from deepnodes.table.spec import ColumnError
from tests.dl.dl_data import fashion

IMG = TensorSpec("input_1", (1, 28, 28))


def test_tensor_column_is_a_zero_copy_view():
    t = fashion(50)
    c = convert(t, Binding(("image",)), IMG)
    assert c.converter == "tensor" and tuple(c.data.shape) == (50, 1, 28, 28)
    buf = t.column("image").chunks[0].storage.flatten().buffers()[1]
    assert c.data.data_ptr() == buf.address  # no copy


def test_sliced_table_converts_only_its_rows():
    t = fashion(50)
    c = convert(t.slice(10, 5), Binding(("image",)), IMG)
    full = convert(t, Binding(("image",)), IMG)
    assert torch.equal(c.data, full.data[10:15])


def test_wrong_shape_sentence():
    spec = spec_of(fashion(5))
    with pytest.raises(ColumnError) as e:
        check_binding(spec, Binding(("image",)), TensorSpec("input_1", (784,)))
    assert str(e.value) == "column 'image' has rows of shape (1, 28, 28) but the network input 'input_1' expects (784,)"
    with pytest.raises(ColumnError, match="column 'label' is a integer column|column 'label' is an integer column"):
        check_binding(spec, Binding(("label",), "tensor"), IMG)
    with pytest.raises(ColumnError, match="column 'nope' \\(option 'inputs'\\) is not in the input table"):
        check_binding(spec, Binding(("nope",)), IMG)


def test_class_index_and_one_hot_from_integer_and_category_columns():
    t = fashion(40, categories=True)
    out = TensorSpec("probs", (10,))
    ci = convert(t, Binding(("label",), role="target"), out)
    assert ci.converter == "class_index" and ci.data.dtype == torch.int64 and ci.classes[0] == "T-shirt/top"
    ints = fashion(40)
    ci2 = convert(ints, Binding(("label",), role="target"), out)
    assert torch.equal(ci.data, ci2.data)  # category codes follow the category order = the integer labels
    oh = convert(t, Binding(("label",), "one_hot", role="target"), out)
    assert tuple(oh.data.shape) == (40, 10) and torch.equal(oh.data.argmax(1), ci.data)
    with pytest.raises(ColumnError, match="has 10 classes but the network output 'y' has 5 units"):
        check_binding(spec_of(t), Binding(("label",), role="target"), TensorSpec("y", (5,)))
    with pytest.raises(ColumnError, match="has class 9, but the network output has 5 units"):
        convert(ints, Binding(("label",), "class_index", role="target"), TensorSpec("y", (5,)))


def test_unknown_class_in_validation_rows():
    t = pa.table({"c": pa.array(["a", "b", "z"]).dictionary_encode()})
    with pytest.raises(ColumnError, match="has class 'z' that the network was not trained on"):
        convert(t, Binding(("c",), role="target"), TensorSpec("y", (2,)), class_names=["a", "b"])


def test_number_columns_and_nan():
    t = pa.table({"a": [1.0, 2.0], "b": [3, 4], "s": ["x", "y"]})
    c = convert(t, Binding(("a", "b")), TensorSpec("x", (2,)))
    assert c.data.tolist() == [[1.0, 3.0], [2.0, 4.0]]
    with pytest.raises(ColumnError, match="give rows of shape \\(2,\\) but the network input 'x' expects \\(3,\\)"):
        check_binding(spec_of(t), Binding(("a", "b")), TensorSpec("x", (3,)))
    with pytest.raises(ColumnError, match="column 's' is a string column"):
        check_binding(spec_of(t), Binding(("a", "s")), TensorSpec("x", (2,)))
    bad = pa.table({"a": [1.0, float("nan"), 2.0]})
    with pytest.raises(ColumnError, match="NaN or infinite values in 1 row \\(first: row 1\\)"):
        convert(bad, Binding(("a",)), TensorSpec("x", (1,)))
    x = np.zeros((3, 2, 2), np.float32)
    x[2, 1, 1] = np.inf
    with pytest.raises(ColumnError, match="column 'img' \\(option 'inputs'\\) has NaN or infinite values"):
        convert(pa.table({"img": tensor_array(x)}), Binding(("img",)), TensorSpec("x", (2, 2)))


def test_token_sequences_are_padded_and_cut():
    t = pa.table({"tok": token_array([[5, 6, 7], [8], [], [1, 2, 3, 4, 5]])})
    assert pad_tokens(t, "tok", 4, 0).tolist() == [[5, 6, 7, 0], [8, 0, 0, 0], [0, 0, 0, 0], [1, 2, 3, 4]]
    assert pad_tokens(t.slice(1, 2), "tok", None, 9).tolist() == [[8], [9]]
    c = convert(t, Binding(("tok",)), TensorSpec("chars", (3,), "int64"))
    assert c.converter == "tokens" and c.data.tolist()[3] == [1, 2, 3]
    with pytest.raises(ColumnError, match="has token id 8, but the network output 'y' has 6 units"):
        convert(t, Binding(("tok",), role="target"), TensorSpec("y", (None, 6)))


def test_bind_by_name_and_by_order():
    spec = spec_of(fashion(5))
    b = bind(spec, (TensorSpec("whatever", (1, 28, 28)),), [], role="input")
    assert b[0][0].columns == ("image",)  # the only tensor column
    with pytest.raises(ColumnError, match="option 'targets': say which column holds the target"):
        bind(spec, (TensorSpec("probs", (10,)),), [], role="target", option="targets")
    two = (TensorSpec("a", (1,)), TensorSpec("b", (1,)))
    with pytest.raises(ColumnError, match="option 'inputs': say which column feeds network input 'a'"):
        bind(spec, two, [], role="input")
    with pytest.raises(ColumnError, match="says nothing about network input 'a'"):
        bind(spec, two, [{"columns": ["label"], "network_input": "b"}], role="input")
    got = bind(spec, two, [{"columns": ["label"], "network_input": "b"}, {"columns": ["row_id"]}], role="input")
    assert got[0][0].columns == ("row_id",) and got[1][0].columns == ("label",)
