"""Path options inside a nested option group (the Learner's `distributed.checkpoint_folder`) are confined to the
workspace like top-level ones, by their dotted name."""
from deepnodes.core import registry
from deepnodes.server.confine import PathPolicy, path_options


def test_a_nested_folder_option_is_found_and_confined(tmp_path):
    registry.discover()
    learner = registry.get("deepnodes.dl.NetworkLearner")
    assert path_options(learner)["distributed.checkpoint_folder"] == "path"
    policy = PathPolicy(tmp_path)
    inside = {"distributed": {"backend": "ray", "checkpoint_folder": str(tmp_path / "ckpt")}}
    assert policy.check(learner, inside) is None
    assert policy.check(learner, {"distributed": {"backend": "ray"}}) is None  # the default: a temporary folder
    msg = policy.check(learner, {"distributed": {"checkpoint_folder": "/etc"}})
    assert msg.startswith("option 'distributed.checkpoint_folder': '/etc' is outside the workspace")
