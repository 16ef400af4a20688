"""Paths the server touches stay in the workspace: workflow files, their `.results` sidecars, the listing,
and every node option that names a file or folder (unless `--allow-path` widens it). Real symlinks, generated
paths."""
from __future__ import annotations

import os
import typing

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from deepnodes.core import registry
from deepnodes.server.app import create_app
from deepnodes.server.confine import PathPolicy, path_options
from tests.server import server_nodes  # noqa: F401 - registers the test nodes

TOKEN = "t-paths"
H = {"X-DeepNodes-Token": TOKEN}
WF = '{"format": "deepnodes.workflow/1", "name": "outside", "nodes": [], "connections": []}'


@pytest.fixture
def box(tmp_path):
    """(client, workspace, outside): a workspace and a sibling folder the server must never touch."""
    ws, out = tmp_path / "ws", tmp_path / "outside"
    ws.mkdir()
    out.mkdir()
    (out / "secret.csv").write_text("password,user\nhunter2,bob\n")
    with TestClient(create_app(ws, TOKEN)) as c:
        yield c, ws, out


def _tree(folder) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*")}


def _new(c) -> str:
    return c.post("/api/docs/new", headers=H, json={"name": "t"}).json()["id"]


def test_save_as_never_writes_through_a_linked_sidecar(box):
    c, ws, out = box
    (ws / "flow.results").symlink_to(out, target_is_directory=True)
    before = _tree(out)
    r = c.post(f"/api/docs/{_new(c)}/save_as", headers=H, json={"path": "flow"})
    assert r.status_code == 403 and "leads out of the workspace" in r.json()["error"]
    assert _tree(out) == before


def test_save_never_writes_through_a_link_inside_the_sidecar(box):
    c, ws, out = box
    d = _new(c)
    assert c.post(f"/api/docs/{d}/save_as", headers=H, json={"path": "flow"}).status_code == 200
    (ws / "flow.results" / "evil").symlink_to(out, target_is_directory=True)
    before = _tree(out)
    r = c.post(f"/api/docs/{d}/save", headers=H)
    assert r.status_code == 403 and "evil" in r.json()["error"] and "leads out" in r.json()["error"]
    assert _tree(out) == before


def test_workflow_file_linked_out_is_neither_listed_opened_nor_written(box):
    c, ws, out = box
    (out / "w.json").write_text(WF)
    (ws / "link.json").symlink_to(out / "w.json")
    (ws / "zero.json").symlink_to("/dev/zero")
    os.mkfifo(ws / "fifo.json")
    (ws / "mine.json").write_text(WF.replace("outside", "mine"))
    listed = c.get("/api/workflows", headers=H).json()["workflows"]  # returns: no /dev/zero or FIFO read
    assert [w["path"] for w in listed] == ["mine.json"]
    assert c.post("/api/docs/open", headers=H, json={"path": "link.json"}).status_code == 403
    r = c.post(f"/api/docs/{_new(c)}/save_as", headers=H, json={"path": "link.json", "overwrite": True})
    assert r.status_code == 403 and (out / "w.json").read_text() == WF
    r = c.post("/api/docs/open", headers=H, json={"path": "fifo.json"})
    assert r.status_code == 400 and "not a regular file" in r.json()["error"]


segment = st.sampled_from(["..", ".", "", "~", "a", "b.json", "link", "/", "\\", "x\x00", "flow.results", "é",
                           "%2e%2e", "C:", "  "])


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(parts=st.lists(segment, min_size=1, max_size=5), lead=st.sampled_from(["", "/", "~/", "./"]))
def test_generated_paths_stay_in_the_workspace(box, parts, lead):
    c, ws, out = box
    if not (ws / "link").exists():
        (ws / "link").symlink_to(out, target_is_directory=True)
    before = _tree(out)
    path = lead + "/".join(parts)
    d = _new(c)
    r = c.post(f"/api/docs/{d}/save_as", headers=H, json={"path": path, "overwrite": True})
    assert r.status_code < 500, r.text
    if r.status_code == 200:
        saved = ws / r.json()["path"]
        assert saved.is_file() and os.path.realpath(saved).startswith(str(ws.resolve()) + os.sep)
    else:
        assert r.json()["error"]
    r = c.post("/api/docs/open", headers=H, json={"path": path})
    assert r.status_code < 500, r.text
    assert _tree(out) == before
    c.post(f"/api/docs/{d}/close", headers=H, json={"discard": True})


# ---------------------------------------------------------------- node path options
def _csv_doc(c, path: str) -> dict:
    d = _new(c)
    r = c.post(f"/api/docs/{d}/edit", headers=H, json={"ops": [
        {"op": "add", "id": "csv", "type": "deepnodes.data.CSVReader", "config": {"path": path}}]})
    assert r.status_code == 200, r.text
    return r.json()


def test_node_path_outside_is_refused_naming_node_and_option(box):
    c, ws, out = box
    for path in (str(out / "secret.csv"), str(ws / ".." / "outside" / "secret.csv"), "/etc/passwd"):
        st_ = _csv_doc(c, path)["status"]["csv"]
        assert st_["state"] == "idle" and st_["specs"] == []  # not even its header was read
        assert st_["message"].startswith("option 'path': ") and "outside the workspace" in st_["message"]
        assert "--allow-path" in st_["message"]


def test_node_path_through_a_link_inside_the_workspace_is_refused(box):
    c, ws, out = box
    (ws / "data.csv").symlink_to(out / "secret.csv")
    (ws / "dir").symlink_to(out, target_is_directory=True)
    for path in (ws / "data.csv", ws / "dir" / "secret.csv"):
        assert "outside the workspace" in _csv_doc(c, str(path))["status"]["csv"]["message"]


def test_node_path_inside_the_workspace_runs(box):
    c, ws, out = box
    (ws / "ok.csv").write_text("a,b\n1,2\n3,4\n")
    doc = _csv_doc(c, str(ws / "ok.csv"))
    assert doc["status"]["csv"]["state"] == "configured", doc["status"]["csv"]


def test_allow_path_widens_the_confinement(tmp_path):
    ws, out = tmp_path / "ws", tmp_path / "outside"
    ws.mkdir()
    out.mkdir()
    (out / "secret.csv").write_text("a,b\n1,2\n")
    with TestClient(create_app(ws, TOKEN, allow_paths=[out])) as c:
        assert _csv_doc(c, str(out / "secret.csv"))["status"]["csv"]["state"] == "configured"
        assert "outside" in _csv_doc(c, "/etc/passwd")["status"]["csv"]["message"]


def test_a_link_swapped_in_after_configure_is_refused_at_execute(box):
    c, ws, out = box
    (ws / "ok.csv").write_text("a,b\n1,2\n")
    doc = _csv_doc(c, str(ws / "ok.csv"))
    (ws / "ok.csv").unlink()
    (ws / "ok.csv").symlink_to(out / "secret.csv")
    engine = c.app.state.docs.get(doc["id"]).engine
    assert engine._execute("csv") == "failed"
    assert "outside the workspace" in engine.status["csv"].message


def test_folders_and_globs_with_links_out_are_refused(tmp_path):
    ws, out = tmp_path / "ws", tmp_path / "outside"
    (ws / "texts").mkdir(parents=True)
    out.mkdir()
    (ws / "texts" / "a.txt").write_text("fine")
    (out / "b.txt").write_text("secret")
    pol = PathPolicy(ws)
    cls = registry.get("deepnodes.text.TextReader")
    assert pol.check(cls, {"path": str(ws / "texts")}) is None
    assert pol.check(cls, {"path": str(ws / "texts" / "*.txt")}) is None
    (ws / "texts" / "b.txt").symlink_to(out / "b.txt")
    for path in (ws / "texts", ws / "texts" / "*.txt", ws / "*" / "*.txt"):
        msg = pol.check(cls, {"path": str(path)})
        assert msg and "b.txt" in msg, path
    assert pol.check(cls, {"path": str(ws / "*" / ".." / ".." / "outside" / "*.txt")})
    assert pol.check(cls, {"path": str(tmp_path / "*" / "*.txt")})


NOT_PATHS = {("deepnodes.data.ImageFolderReader", "extensions"), ("deepnodes.ml.ModelReader", "trusted_types"),
             ("deepnodes.text.TextReader", "encoding"),
             # a name glob matched inside the (confined) folder, and the body option the loop sets to those files
             ("deepnodes.flow.FolderLoop", "pattern"), ("deepnodes.flow.FolderLoop", "file_option")}


def test_every_option_that_names_a_file_is_found():
    """A new reader or writer is confined without a list: any text option that describes a file, folder or
    path is a path option by its name or an `x-path` annotation (or is listed here as not a path)."""
    registry.discover()
    found = set()
    for t, cls in registry.all_nodes().items():
        opts = path_options(cls)
        found |= {(t, o) for o in opts}
        for name, f in cls.Config.model_fields.items():
            text = (f.description or "").lower()
            if f.annotation in (str, typing.Optional[str], list[str]) and any(
                    w in text for w in ("file", "folder", "directory", "path")):
                assert name in opts or (t, name) in NOT_PATHS, f"{t} option '{name}' looks like a path"
    for must in [("deepnodes.data.CSVReader", "path"), ("deepnodes.dl.NetworkWriter", "path"),
                 ("deepnodes.data.DatasetReader", "local_folder"), ("deepnodes.data.TableWriter", "path")]:
        assert must in found


def test_save_never_writes_through_a_planted_temporary_link(box):
    """A link named like a temporary file the writer might use (flow.json.tmp) is never written through."""
    c, ws, out = box
    (out / "victim").write_text("mine")
    for name in ("flow.json.tmp", ".flow.json.tmp", "flow.tmp"):
        (ws / name).symlink_to(out / "victim")
    d = _new(c)
    assert c.post(f"/api/docs/{d}/save_as", headers=H, json={"path": "flow"}).status_code == 200
    assert c.post(f"/api/docs/{d}/save", headers=H).status_code == 200
    assert (out / "victim").read_text() == "mine"
    assert not (ws / "flow.json").is_symlink() and "deepnodes.workflow" in (ws / "flow.json").read_text()


@settings(max_examples=300, deadline=None)
@given(value=st.lists(st.sampled_from(["..", ".", "~", "~nobody", "*", "**", "[", "a", "link", "", "x\x00", "é"]),
                      max_size=6).map("/".join) | st.text(max_size=60),
       lead=st.sampled_from(["", "/", "./", "~/"]))
def test_path_policy_is_total_and_only_allows_the_inside(tmp_path_factory, value, lead):
    """Any text in a path option gets an answer (never an exception); allowed means inside, links followed."""
    ws = tmp_path_factory.getbasetemp() / "policy-ws"
    if not ws.exists():
        (ws / "a").mkdir(parents=True)
        (ws / "link").symlink_to("/etc", target_is_directory=True)
    cls = registry.get("deepnodes.text.TextReader")
    path = lead + value
    cwd = os.getcwd()
    os.chdir(ws)
    try:
        msg = PathPolicy(ws).check(cls, {"path": path})
        if msg is None and path.strip() and "\x00" not in path and not set("*?[") & set(path):
            real = os.path.realpath(os.path.expanduser(path))
            assert real == str(ws.resolve()) or real.startswith(str(ws.resolve()) + os.sep), (path, real)
    finally:
        os.chdir(cwd)
