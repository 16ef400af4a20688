"""Flow machinery that is not a node: running a Parameter Search's trials on Ray Tune (`ray_tune`). Imported
only when a node asks for it (Ray is an optional extra)."""
