"""Deep-learning nodes: Network Learner and Network Executor (thin wrappers over deepnodes.dl.train / infer)."""
