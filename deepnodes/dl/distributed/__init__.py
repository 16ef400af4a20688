"""Distributed training: `hooks.py` (what one rank adds to the training loop: DDP, agreement on stop/cancel,
all-reduced epoch sums, checkpoint/resume), `ray_train.py` (the driver on Ray Train), `worker.py` (the function
each Ray worker runs). Nothing here is imported by a local run."""
