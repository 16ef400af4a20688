"""The framework layer: ports, the `Node` base class, the registry, `Workflow` and the `Engine`. No torch."""
from .engine import Engine, NodeStatus, RunResult
from .node import Cancelled, ExecutionContext, Node, NodeConfig, NodeError
from .ports import In, Out, Port
from .registry import all_nodes, describe, discover, node
from .workflow import Workflow, WorkflowError

__all__ = ["Engine", "NodeStatus", "RunResult", "Cancelled", "ExecutionContext", "Node", "NodeConfig",
           "NodeError", "In", "Out", "Port", "all_nodes", "describe", "discover", "node", "Workflow",
           "WorkflowError"]
