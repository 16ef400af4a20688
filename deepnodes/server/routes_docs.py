"""API routes of documents: open, import, save, close, edit, validate, execute, cancel, stop, reset.

Files are reached only through the `Workspace` (no path, sidecar or link outside it); a file opened twice, in
any spelling of its path, is one document."""
from __future__ import annotations

import asyncio
from pathlib import Path

from fastapi import FastAPI

from deepnodes.core import Workflow, registry

from .bodies import Close, Edit, Execute, ImportDoc, NewDoc, NodeRef, OpenDoc, SaveAs, Validate
from .hub import Hub
from .session import Document, Documents, EditError, config_errors
from .workspace import Workspace, check_file


def examples_dir() -> Path | None:
    """The example workflows: packaged beside the code, or the repository's examples/ folder."""
    here = Path(__file__).resolve().parent.parent
    for d in (here / "examples", here.parent / "examples"):
        if d.is_dir():
            return d
    return None


def add_routes(app: FastAPI, ws: Workspace, docs: Documents, hub: Hub) -> None:
    def results_of(full: Path, doc_log: list | None = None) -> Path | None:
        """The `.results` sidecar of a workflow file if it can be read (a link out of the workspace is not)."""
        folder = full.with_suffix(".results")
        if not folder.is_dir():
            return None
        try:
            return ws.check_sidecar(folder)
        except EditError as e:
            if doc_log is not None:
                doc_log.append(e.message)
            return None

    def open_file(full: Path, wf: Workflow | None = None) -> Document:
        rel = ws.rel(full)
        refused: list[str] = []

        def load():
            if wf is None:
                check_file(full)
            return (wf if wf is not None else Workflow.load(full)), results_of(full, refused)

        doc = docs.open(rel, load)
        for line in refused:
            doc._on_event({"type": "log", "node": None, "level": "warning", "line": f"results not reopened: {line}"})
        return doc

    @app.post("/api/docs/new")
    async def new_doc(data: NewDoc | None = None):
        data = data or NewDoc()
        return docs.create(Workflow(data.name or "untitled"), None).snapshot()

    @app.post("/api/docs/open")
    async def open_doc(data: OpenDoc):
        if data.example:
            d = examples_dir()
            name = data.example
            if d is None or "/" in name or "\\" in name or name.startswith(".") or not (d / name).is_file():
                raise EditError(f"there is no example '{name}'", status=404)
            wf = Workflow.load(d / name)
            wf.path = None
            return docs.create(wf, None, example=name).snapshot()
        full = ws.resolve(data.path or "", must_exist=True)
        return (await asyncio.to_thread(open_file, full)).snapshot()

    @app.post("/api/docs/import")
    async def import_doc(data: ImportDoc):
        """A workflow sent by a tab (e.g. after a server restart lost an unsaved document)."""
        wf = Workflow.from_json(data.workflow)
        if data.path:
            doc = await asyncio.to_thread(open_file, ws.resolve(data.path), wf)
        else:
            doc = docs.create(wf, None, example=data.example)
        doc.dirty = doc.dirty or data.dirty
        return doc.snapshot()

    @app.get("/api/docs/{doc_id}")
    def get_doc(doc_id: str):
        return docs.get(doc_id).snapshot()

    @app.post("/api/docs/{doc_id}/close")
    async def close_doc(doc_id: str, data: Close | None = None):
        """Forget a document: its run is cancelled, its results and histories freed; its tabs get `closed`.
        A document another page still watches (two tabs on one file) stays open for it."""
        data = data or Close()
        docs.get(doc_id)
        others = hub.watchers(doc_id, besides=data.client) if data.client else 0
        if others:
            return {"closed": False, "id": doc_id, "watched_by": others}
        await asyncio.to_thread(docs.close, doc_id, data.discard)
        return {"closed": True, "id": doc_id}

    def save(doc: Document, full: Path) -> dict:
        sidecar = ws.check_sidecar(full.with_suffix(".results"))
        with doc.lock:
            try:
                full.parent.mkdir(parents=True, exist_ok=True)
                doc.workflow.save(full)
                doc.engine.save_results(sidecar)
            except OSError as e:
                raise EditError(f"'{ws.rel(full)}' cannot be saved: {e.strerror or e}", status=409) from None
            doc.path = ws.rel(full)
            doc.example = None
            doc.dirty = False
            doc.version += 1
        snap = doc.snapshot()
        hub.publish(doc.id, {"type": "graph", "doc": snap})
        return snap

    @app.post("/api/docs/{doc_id}/save")
    async def save_doc(doc_id: str):
        doc = docs.get(doc_id)
        if not doc.path:
            raise EditError("this workflow has no file yet; use Save as", status=400)
        return await asyncio.to_thread(save, doc, ws.resolve(doc.path))

    @app.post("/api/docs/{doc_id}/save_as")
    async def save_as(doc_id: str, data: SaveAs):
        doc = docs.get(doc_id)
        full = ws.resolve(data.path)
        other = docs.by_path(ws.rel(full))
        if other is not None and other is not doc:
            raise EditError(f"'{ws.rel(full)}' is open in another tab as a different workflow; close it first",
                            status=409)
        if full.exists() and not data.overwrite:
            raise EditError(f"'{ws.rel(full)}' exists already; choose another name or overwrite it", status=409)
        if doc.workflow.name.strip() in ("", "untitled"):  # a workflow never named takes its file's name
            doc.workflow.name = full.stem
        return await asyncio.to_thread(save, doc, full)

    # ------------------------------------------------------------------ edits and runs
    @app.post("/api/docs/{doc_id}/edit")
    async def edit(doc_id: str, data: Edit):
        doc = docs.get(doc_id)
        return await asyncio.to_thread(doc.edit, data.ops)

    @app.post("/api/docs/{doc_id}/validate")
    async def validate(doc_id: str, data: Validate):
        """Field-level messages for a config dialog, without changing anything."""
        entry = docs.get(doc_id).workflow._node(data.node)
        return {"errors": config_errors(registry.get(entry.type), data.config)}

    @app.post("/api/docs/{doc_id}/execute")
    async def execute(doc_id: str, data: Execute | None = None):
        docs.get(doc_id).execute((data or Execute()).nodes)
        return {"started": True}

    @app.post("/api/docs/{doc_id}/cancel")
    def cancel(doc_id: str):
        docs.get(doc_id).cancel()
        return {"cancelled": True}

    @app.post("/api/docs/{doc_id}/stop")
    async def stop(doc_id: str, data: NodeRef | None = None):
        docs.get(doc_id).stop((data or NodeRef()).node or "")
        return {"stop_requested": True}

    @app.post("/api/docs/{doc_id}/reset")
    async def reset(doc_id: str, data: NodeRef | None = None):
        doc = docs.get(doc_id)
        await asyncio.to_thread(doc.reset, (data or NodeRef()).node or None)
        return doc.snapshot()
