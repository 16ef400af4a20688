"""H2O nodes: H2O Learner (GBM, DRF, GLM, Deep Learning), H2O AutoML and H2O Predictor (in the cluster or from a MOJO)."""
