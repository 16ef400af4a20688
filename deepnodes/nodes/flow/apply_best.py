"""Apply a Parameter Search's best configuration to the workflow: `deepnodes apply-best W.json --node search`.

The search records its best trial's values as scalar results (`best <parameter>`, typed as Optuna gave them);
each parameter names a body option (`space.lr.option = "learner.learning_rate"`). `apply_best` writes those
values into a target:
- by default the search's own body, so the body holds the best configuration as its values;
- `to` a node that holds an inline body (a Component, a loop): the same `node.option` inside its body;
- `to` any other node (the final Learner at the top level): the option part on that node (`learning_rate`).
The CLI gets the values from the saved results (WORKFLOW.results/) or runs the search (cached as usual), then
saves the workflow file atomically (a temporary sibling, then a rename), so an interrupted write loses nothing.
"""
from __future__ import annotations

from typing import Any

from deepnodes.core.workflow_file import WorkflowError, short

SEARCH = "deepnodes.flow.ParameterSearch"


def search_entry(workflow, node: str):
    entry = workflow._node(node, "--node")
    if entry.type != SEARCH:
        raise WorkflowError(f"node '{short(node)}' is a {entry.type.rsplit('.', 1)[-1]}, not a Parameter Search")
    return entry


def best_values(workflow, node: str, scalars: dict[str, Any]) -> dict[str, tuple[str, Any]]:
    """{parameter: (body option 'node.option', best value)} from the search node's scalar results."""
    entry = search_entry(workflow, node)
    space = (entry.config or {}).get("space") or {}
    missing = [n for n in space if f"best {n}" not in scalars]
    if not space or missing:
        raise WorkflowError(f"node '{short(node)}' has no best configuration yet (no finished trial"
                            + (f" for '{missing[0]}'" if missing and len(missing) < len(space) else "") + ")")
    return {n: (p["option"], scalars[f"best {n}"]) for n, p in space.items()}


def apply_best(workflow, node: str, scalars: dict[str, Any], to: str | None = None) -> list[str]:
    """Write the best values into `to` (default: the search's body); returns one 'where = value' line each.
    Every value is validated as the option's type; nothing is changed when one is refused."""
    from deepnodes.core import registry
    from deepnodes.core.workflow import Workflow

    values = best_values(workflow, node, scalars)
    target = to or node
    entry = workflow._node(target, "--to")
    cls = registry.get(entry.type)
    holds_body = "body" in cls.Config.model_fields
    changes: list[str] = []
    if holds_body:
        cfg = cls.Config.model_validate(entry.config).model_dump(mode="json")
        if cfg.get("body_file") or not cfg.get("body"):
            where = f"the file '{short(cfg['body_file'])}'" if cfg.get("body_file") else "no inline body"
            raise WorkflowError(f"node '{short(target)}' has {where}; apply the best configuration to a node with an "
                                f"inline body, or to a node of the workflow with --to")
        body = Workflow.from_json({"format": "deepnodes.workflow/1", "name": target, "connections": [],
                                   **cfg["body"]})
        for name, (option, value) in values.items():
            inner, _, path = option.partition(".")
            try:
                body.set_option(inner, path, value)
            except WorkflowError as e:
                raise WorkflowError(f"parameter '{name}' of '{node}' cannot be applied in '{target}': {e}") from None
            changes.append(f"{target}/{option} = {value!r}")
        workflow.set_option(target, "body", {k: v for k, v in body.to_json().items() if k not in ("format", "name")})
        return changes
    staged = Workflow.from_json(workflow.to_json())  # all or nothing: try every value on a copy first
    for name, (option, value) in values.items():
        path = option.partition(".")[2]
        try:
            staged.set_option(target, path, value)
        except WorkflowError as e:
            raise WorkflowError(f"parameter '{name}' of '{node}' cannot be applied to '{target}': {e}") from None
        changes.append(f"{target}.{path} = {value!r}")
    for name, (option, value) in values.items():
        workflow.set_option(target, option.partition(".")[2], value)
    return changes


# ------------------------------------------------------------------------------------------------ the CLI
def add_parser(sub) -> None:
    a = sub.add_parser("apply-best", help="write a Parameter Search's best configuration into the workflow file")
    a.add_argument("workflow", help="workflow JSON file")
    a.add_argument("--node", required=True, metavar="NODE", help="the Parameter Search node")
    a.add_argument("--to", metavar="NODE", help="where the values go (default: the search's own body): a node "
                   "with an inline body (same node.option inside), or any node (the option part on it)")
    a.add_argument("--dry-run", action="store_true", help="print what would change; leave the file as it is")
    a.add_argument("--quiet", action="store_true", help="no live display while the search runs")


def cmd_apply_best(args) -> int:
    import sys
    from pathlib import Path

    from deepnodes.core import Engine, Workflow

    def err(msg: str) -> int:
        print(f"error: {msg}", file=sys.stderr)
        return 2
    try:
        wf = Workflow.load(args.workflow)
        search_entry(wf, args.node)
        if args.to:
            wf._node(args.to, "--to")
    except (WorkflowError, ValueError) as e:
        return err(str(e))
    engine = Engine(wf)
    engine.load_results(Path(args.workflow).with_suffix(".results"))  # a search already run: no trial again
    from deepnodes.progress import LiveDisplay

    with LiveDisplay(engine, quiet=args.quiet):
        res = engine.run(until=args.node)
    st = engine.status[args.node]
    if st.outputs is None:
        return err(f"node '{args.node}' did not finish: {st.message or 'an input could not run'}"
                   if not res.ok else f"node '{args.node}' has no results")
    try:
        changes = apply_best(wf, args.node, st.scalars, args.to)
        if not args.dry_run:
            wf.save(args.workflow)
    except (WorkflowError, ValueError, OSError) as e:
        return err(str(e))
    for line in changes:
        print(line)
    if st.partial:
        print(f"warning: the search was not finished; these are the best of the trials it made", file=sys.stderr)
    if not args.dry_run:
        print(f"wrote {args.workflow}", file=sys.stderr)
    return 0
