"""Any torch module file as a base network: TorchScript (safe) or a pickled module (only with trust)."""
from __future__ import annotations

import torch
from torch import nn

from deepnodes.core import Engine, Workflow


def _cnn():
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(), nn.AdaptiveAvgPool2d(1),
                         nn.Flatten())


def _workflow(path, **cfg) -> Workflow:
    wf = Workflow()
    wf.add("deepnodes.dl.TorchModuleReader", "base", {"path": str(path), "input_shape": [3, 32, 32], **cfg})
    wf.add("deepnodes.dl.FreezeLayers", "freeze", {"mode": "all"})
    wf.add("deepnodes.layers.Dense", "head", {"units": 4, "activation": "softmax", "name": "head"})
    wf.connect("base", "network", "freeze", "network")
    wf.connect("freeze", "network", "head", "input")
    return wf


def test_torchscript_file_becomes_a_base_with_a_new_head(tmp_path):
    cnn = _cnn().eval()
    path = tmp_path / "cnn.pt"
    torch.jit.save(torch.jit.trace(cnn, torch.rand(1, 3, 32, 32)), str(path))
    eng = Engine(_workflow(path))
    assert eng.run().ok, {n: s.message for n, s in eng.status.items()}
    base = eng.output("base")
    assert base.spec.outputs[0].shape == (8,)
    net = eng.output("head")
    module = net.module.eval()
    x = torch.rand(3, 3, 32, 32)
    with torch.no_grad():
        assert net.forward(x)[0].shape == (3, 4)
        torch.testing.assert_close(base.forward(x)[0], cnn(x))
    trainable = {n for n, p in module.named_parameters() if p.requires_grad}
    assert trainable == {"head.weight", "head.bias"}


def test_pickled_module_needs_trust(tmp_path):
    path = tmp_path / "cnn.pth"
    torch.save(_cnn(), str(path))
    eng = Engine(_workflow(path))
    assert not eng.run().ok
    assert eng.status["base"].message == ("'cnn.pth' is not a TorchScript archive; a pickled torch module is read only "
                                          "with option 'trust' on, because unpickling runs code from the file")
    eng = Engine(_workflow(path, trust=True))
    assert eng.run().ok, eng.status["base"].message
    state = tmp_path / "weights.pth"
    torch.save(_cnn().state_dict(), str(state))
    eng = Engine(_workflow(state, trust=True))
    assert not eng.run().ok
    assert "not a torch module (a state dict has no architecture" in eng.status["base"].message
    eng = Engine(_workflow(path, trust=True, input_shape=[5, 32, 32]))
    assert not eng.run().ok
    assert eng.status["base"].message.startswith("the module in 'cnn.pth' fails on an input of shape (5, 32, 32)")
