"""An option that takes a URI or a local folder (the Learner's `mlflow_uri`) is confined by the file it names:
a store outside the workspace is refused like any path, a server's address is not a file."""
import pytest

from deepnodes.core import registry
from deepnodes.server.confine import PathPolicy, path_options


@pytest.fixture
def policy(tmp_path):
    ws = tmp_path / "ws"
    ws.mkdir()
    return PathPolicy(ws), ws


def _learner():
    registry.discover()
    return registry.all_nodes()["deepnodes.dl.NetworkLearner"]


def test_mlflow_uri_is_a_uri_path_option():
    assert path_options(_learner())["mlflow_uri"] == "uri"


@pytest.mark.parametrize("value", ["/etc/mlruns", "sqlite:////etc/mlflow.db", "sqlite:///../out.db",
                                   "file:///etc/mlruns", "file:/etc/x", "SQLite:////tmp/a.db",
                                   "sqlite+pysqlite:////var/x.db", "../mlruns", "~/mlruns"])
def test_a_store_outside_the_workspace_is_refused(policy, value, monkeypatch):
    pol, ws = policy
    monkeypatch.chdir(ws)
    bad = pol.check(_learner(), {"mlflow_uri": value})
    assert bad is not None and "option 'mlflow_uri'" in bad and "outside" in bad


@pytest.mark.parametrize("value", ["", "mlruns", "sqlite:///mlflow.db", "http://127.0.0.1:5000",
                                   "https://mlflow.example.org", "databricks", "postgresql://u@h/db"])
def test_a_store_inside_or_a_server_is_allowed(policy, value, monkeypatch):
    pol, ws = policy
    monkeypatch.chdir(ws)
    assert pol.check(_learner(), {"mlflow_uri": value}) is None
