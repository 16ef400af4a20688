"""Portable bundles: `deepnodes export WORKFLOW.json --out DIR` writes a folder that runs a trained workflow's
network without DeepNodes or torch (`export.py` writes it; `predict.py` is the runner copied into it, using only
onnxruntime, numpy and pillow)."""
