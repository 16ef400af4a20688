"""Layer nodes: one node per layer kind of the catalogue (`deepnodes.dl.layers`), grouped by family."""
