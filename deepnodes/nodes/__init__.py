"""Node classes, one sub-package per palette category. Every module here is imported by
`deepnodes.core.registry.discover()`; keep module-level imports light (no torch, no pyarrow)."""
