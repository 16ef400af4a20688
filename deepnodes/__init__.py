"""DeepNodes: build, train and deploy deep-learning models as visual workflows.

    from deepnodes import Workflow, Engine
    wf = Workflow.load("examples/image_classification.json")
    engine = Engine(wf)
    engine.run()

Importing this package never imports torch; the deep-learning layer loads when a node needs it.
"""
__version__ = "0.1.0"


def __getattr__(name):  # lazy: keep `import deepnodes` light
    if name in ("Workflow", "WorkflowError", "Engine", "Node", "NodeError", "node"):
        from . import core

        return getattr(core, name)
    raise AttributeError(name)
