"""Layer nodes in workflows: shapes at configure time, worded errors, merges, states, outputs, reuse of weights."""
import sys

import pytest
import torch

from deepnodes.core import Engine, Workflow, registry


def _wf(*steps):
    """steps: (id, type, config, [(source, target_port), ...])"""
    wf = Workflow("t")
    for nid, typ, cfg, conns in steps:
        wf.add(f"deepnodes.layers.{typ}", nid, cfg)
        for src, port in conns:
            wf.connect(src, "network", nid, port)
    return wf


def _spec(eng, nid):
    return eng.status[nid].specs[0]


def test_every_layer_node_is_registered_with_descriptions():
    from deepnodes.dl.layers import load_all

    nodes = registry.all_nodes()
    assert not registry.IMPORT_ERRORS
    for kind in load_all():
        if kind == "module":
            continue
        cls = nodes[f"deepnodes.layers.{kind}"]
        assert cls.category.startswith("Deep Learning/Layers/")
        assert cls.description
        for name, f in cls.Config.model_fields.items():
            assert f.description, f"{kind}.{name} has no description"


def test_cnn_shapes_at_configure_time_and_worded_error():
    wf = _wf(("in", "Input", {"shape": [1, 28, 28]}, []),
             ("c1", "Conv2D", {"filters": 32, "kernel_size": 3, "activation": "relu"}, [("in", "input")]),
             ("p1", "MaxPooling2D", {"pool_size": 2}, [("c1", "input")]),
             ("f", "Flatten", {}, [("p1", "input")]),
             ("bad", "Conv2D", {}, [("f", "input")]),
             ("d", "Dense", {"units": 10, "activation": "softmax"}, [("f", "input")]))
    eng = Engine(wf)
    eng.configure()
    assert _spec(eng, "c1").outputs[0].shape == (32, 26, 26)
    assert _spec(eng, "p1").outputs[0].shape == (32, 13, 13)
    assert _spec(eng, "d").outputs[0].shape == (10,)
    assert [layer.name for layer in _spec(eng, "d").layers] == ["input_1", "conv2d_1", "max_pooling2d_1", "flatten_1",
                                                                 "dense_1"]
    assert eng.status["bad"].state == "idle"
    assert eng.status["bad"].message == "Conv2D needs an input of shape (C, H, W); it got (5408,) from flatten_1"
    res = eng.run(until="d")
    assert res.ok
    net = eng.output("d")
    y = net.forward(torch.rand(4, 1, 28, 28))[0]
    assert y.shape == (4, 10) and torch.allclose(y.sum(1), torch.ones(4))


def test_bad_option_is_worded():
    wf = _wf(("in", "Input", {"shape": [8]}, []), ("d", "Dense", {"name": "my.dense"}, [("in", "input")]),
             ("e", "Embedding", {}, [("in", "input")]))
    eng = Engine(wf)
    eng.configure()
    assert "option 'name'" in eng.status["d"].message
    wf2 = _wf(("in", "Input", {"shape": [4, 5]}, []), ("r", "Reshape", {"target_shape": [3, 3]}, [("in", "input")]))
    eng2 = Engine(wf2)
    eng2.configure()
    assert eng2.status["r"].message == "Reshape cannot turn (4, 5) from input_1 (20 values) into (3, 3)"


def test_merge_dedupes_shared_trunk_and_renames_clashes():
    wf = _wf(("in", "Input", {"shape": [8]}, []),
             ("a", "Dense", {"units": 4}, [("in", "input")]),
             ("b", "Dense", {"units": 4, "activation": "relu"}, [("in", "input")]),
             ("add", "Add", {}, [("a", "input_1"), ("b", "input_2")]),
             ("cat", "Concatenate", {}, [("a", "input_1"), ("b", "input_2"), ("add", "input_3")]))
    eng = Engine(wf)
    eng.configure()
    s = _spec(eng, "add")
    assert [layer.name for layer in s.layers] == ["input_1", "dense_1", "dense_2", "add_1"]
    assert len(s.inputs) == 1 and s.layer("add_1").inputs == ("dense_1", "dense_2")
    assert _spec(eng, "cat").outputs[0].shape == (12,)
    assert eng.run().ok
    net = eng.output("cat")
    x = torch.rand(3, 8)
    m = net.module
    a, b = m.get_submodule("dense_1")(x), m.get_submodule("dense_2")(x)
    assert torch.allclose(net.forward(x)[0], torch.cat([a, b, a + b], 1), atol=1e-6)


def test_merge_shape_mismatch_is_worded():
    wf = _wf(("in", "Input", {"shape": [8]}, []), ("a", "Dense", {"units": 4}, [("in", "input")]),
             ("b", "Dense", {"units": 5}, [("in", "input")]), ("add", "Add", {}, [("a", "input_1"), ("b", "input_2")]))
    eng = Engine(wf)
    eng.configure()
    assert eng.status["add"].message == "Add needs inputs of one shape; it got (4,) from dense_1 and (5,) from dense_2"


def test_two_inputs_and_encoder_decoder_states():
    wf = _wf(("src", "Input", {"shape": [-1], "dtype": "int64", "name": "source"}, []),
             ("tgt", "Input", {"shape": [-1], "dtype": "int64", "name": "target"}, []),
             ("e1", "Embedding", {"input_dim": 20, "output_dim": 8}, [("src", "input")]),
             ("e2", "Embedding", {"input_dim": 30, "output_dim": 8}, [("tgt", "input")]),
             ("enc", "LSTM", {"units": 16, "return_state": True}, [("e1", "input")]),
             ("dec", "LSTM", {"units": 16, "return_sequences": True},
              [("e2", "input"), ("enc", "initial_h"), ("enc", "initial_c")]),
             ("out", "Dense", {"units": 30, "activation": "softmax"}, [("dec", "input")]))
    eng = Engine(wf)
    eng.configure()
    enc = _spec(eng, "enc")
    assert [o.name for o in enc.outputs] == ["lstm_1", "lstm_1:1", "lstm_1:2"]
    s = _spec(eng, "out")
    assert [t.name for t in s.inputs] == ["target", "source"]
    dec = next(layer for layer in s.layers if layer.kind == "LSTM" and len(layer.inputs) == 3)
    assert dec.name == "lstm_2" and dec.inputs[1:] == ("lstm_1:1", "lstm_1:2")
    assert s.outputs[0].shape == (None, 30)
    assert eng.run().ok
    net = eng.output("out")
    y = net.forward(torch.randint(0, 30, (2, 5)), torch.randint(0, 20, (2, 7)))[0]
    assert y.shape == (2, 5, 30)


def test_collect_outputs_and_input_tensors_option():
    wf = _wf(("in", "Input", {"shape": [6, 3]}, []),
             ("l", "LSTM", {"units": 4, "return_state": True}, [("in", "input")]),
             ("h", "Dense", {"units": 2, "input_tensors": ["lstm_1:2"]}, [("l", "input")]),
             ("d", "Dense", {"units": 3}, [("l", "input")]))
    wf.add("deepnodes.layers.CollectOutputs", "co", {})
    wf.connect("h", "network", "co", "network_1")
    wf.connect("d", "network", "co", "network_2")
    eng = Engine(wf)
    eng.configure()
    s = _spec(eng, "co")
    assert [o.name for o in s.outputs] == ["dense_1", "dense_2"]
    assert s.layer("dense_1").inputs == ("lstm_1:2",)
    assert eng.run().ok
    ys = eng.output("co").forward(torch.rand(5, 6, 3))
    assert [tuple(y.shape) for y in ys] == [(5, 2), (5, 3)]


def test_appending_to_a_trained_network_keeps_its_weights():
    from deepnodes.dl import graph
    from deepnodes.dl.build import LayerBuilder, build_network, extend_network
    from deepnodes.dl.network import Network

    s = graph.input_spec([5])
    s, _ = graph.append_layer([s], "Dense", {"units": 4})
    trained = Network(s, builder=LayerBuilder())
    with torch.no_grad():
        trained.module.get_submodule("dense_1").weight.fill_(0.25)  # "trained"
    s2, ren = graph.append_layer([trained.spec], "Dense", {"units": 2})
    ext = extend_network([trained], s2, ren)
    m = build_network(ext, seed=3)
    assert torch.all(m.get_submodule("dense_1").weight == 0.25)
    # training the extension does not change the upstream network
    with torch.no_grad():
        m.get_submodule("dense_1").weight.fill_(1.0)
    assert torch.all(trained.module.get_submodule("dense_1").weight == 0.25)


def test_opaque_module_gets_layers_appended():
    from deepnodes.dl import graph
    from deepnodes.dl.build import extend_network
    from deepnodes.dl.network import Network
    from deepnodes.dl.spec import NetworkSpec, TensorSpec
    from deepnodes.nodes.layers.base import opaque_graph

    base = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten())
    net = Network(NetworkSpec((TensorSpec("image", (3, 16, 16)),), (TensorSpec("features", (4,)),)), module=base)
    s, ren = graph.append_layer([opaque_graph(net)], "Dense", {"units": 3, "activation": "softmax"})
    assert [layer.kind for layer in s.layers] == ["Input", "module", "Dense"]
    ext = extend_network([net], s, ren)
    x = torch.rand(2, 3, 16, 16)
    assert torch.equal(ext.module.get_submodule("module_1")[0].weight, base[0].weight)
    assert ext.forward(x)[0].shape == (2, 3)


def test_seeded_init_is_deterministic_and_per_layer():
    from deepnodes.dl import graph
    from deepnodes.dl.build import build_module

    s = graph.input_spec([6, 3])
    s, _ = graph.append_layer([s], "LSTM", {"units": 4})
    s2, _ = graph.append_layer([s], "Dense", {"units": 2})
    a, b, c = build_module(s2, seed=7), build_module(s2, seed=7), build_module(s2, seed=8)
    sa, sb, sc = a.state_dict(), b.state_dict(), c.state_dict()
    assert all(torch.equal(sa[k], sb[k]) for k in sa)
    assert not torch.equal(sa["dense_1.weight"], sc["dense_1.weight"])
    # adding a layer does not change the weights of the others
    s1 = build_module(s, seed=7).state_dict()
    assert all(torch.equal(s1[k], sa[k]) for k in s1)


def test_regularization_loss_reaches_training():
    from deepnodes.dl import graph
    from deepnodes.dl.build import build_module, regularization_loss

    s = graph.input_spec([4])
    s, _ = graph.append_layer([s], "Dense", {"units": 3, "kernel_regularizer": {"l2": 0.5, "l1": 0.1}})
    m = build_module(s, seed=0)
    w = m.get_submodule("dense_1").weight
    want = 0.5 * (w ** 2).sum() + 0.1 * w.abs().sum()
    assert torch.allclose(regularization_loss(m), want)
    s0, _ = graph.append_layer([graph.input_spec([4])], "Dense", {"units": 3})
    assert regularization_loss(build_module(s0)) is None


def test_chain_fast_path_and_graph_module():
    from deepnodes.dl import graph
    from deepnodes.dl.build import ChainModule, GraphModule, build_module

    s = graph.input_spec([4])
    s, _ = graph.append_layer([s], "Dense", {"units": 3})
    assert isinstance(build_module(s), ChainModule)
    s2, _ = graph.append_layer([s, s], "Add", {})
    assert isinstance(build_module(s2), GraphModule)


def test_node_modules_do_not_import_torch():
    import subprocess

    code = ("import sys; from deepnodes.core import registry; registry.discover(); "
            "print('torch' in sys.modules, 'pyarrow' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split()[0] == "False"


@pytest.mark.parametrize("kind,cfg,shape,msg", [
    ("LSTM", {}, [28, 28, 1], "LSTM needs an input of shape (T, F); it got (28, 28, 1) from input_1"),
    ("Dense", {}, [3, 0 + 5], None),
    ("MaxPooling2D", {"pool_size": 40}, [1, 28, 28], "MaxPooling2D: the pool_size (40, 40) is larger than the input's "
                                                     "size (28, 28) from input_1"),
    ("Embedding", {}, [10, 4], "Embedding needs token ids of shape (T,); it got (10, 4) float32 from input_1"),
    ("Conv1D", {"kernel_size": [3, 3]}, [10, 4], "option 'kernel_size' of Conv1D needs 1 values (one per spatial "
                                                 "dimension); it has 2"),
])
def test_bad_shapes_are_worded(kind, cfg, shape, msg):
    wf = _wf(("in", "Input", {"shape": shape}, []), ("x", kind, cfg, [("in", "input")]))
    eng = Engine(wf)
    eng.configure()
    if msg is None:
        assert eng.status["x"].state == "configured"
    else:
        assert eng.status["x"].message == msg


def test_trainable_false_freezes_the_layer_and_names_keep_inputs_apart():
    wf = _wf(("a", "Input", {"shape": [4], "name": "left"}, []), ("b", "Input", {"shape": [4], "name": "right"}, []),
             ("da", "Dense", {"units": 3, "trainable": False}, [("a", "input")]),
             ("db", "Dense", {"units": 3}, [("b", "input")]),
             ("s", "Subtract", {}, [("da", "input_1"), ("db", "input_2")]))
    eng = Engine(wf)
    assert eng.run().ok
    net = eng.output("s")
    assert [t.name for t in net.spec.inputs] == ["left", "right"]
    assert [layer.name for layer in net.spec.layers if layer.kind == "Dense"] == ["dense_1", "dense_2"]
    m = net.module
    assert not any(p.requires_grad for p in m.get_submodule("dense_1").parameters())
    assert all(p.requires_grad for p in m.get_submodule("dense_2").parameters())
    x1, x2 = torch.rand(2, 4), torch.rand(2, 4)
    want = m.get_submodule("dense_1")(x1) - m.get_submodule("dense_2")(x2)
    assert torch.allclose(net.forward(x1, x2)[0], want)


def test_graph_module_copies_are_independent():
    import copy

    from deepnodes.dl import graph
    from deepnodes.dl.build import GraphModule, build_module

    s = graph.input_spec([4])
    s, _ = graph.append_layer([s], "Dense", {"units": 3})
    s2, _ = graph.append_layer([s, s], "Add", {})
    m = build_module(s2, seed=0)
    x = torch.rand(2, 4)
    y = m(x)[0]  # compiles the program
    c = copy.deepcopy(m)
    assert isinstance(c, GraphModule) and torch.equal(c(x)[0], y)
    with torch.no_grad():
        c.get_submodule("dense_1").weight.zero_()
        c.get_submodule("dense_1").bias.zero_()
    assert torch.equal(c(x)[0], torch.zeros(2, 3)) and torch.equal(m(x)[0], y)
