"""H2O on tables: a real H2O cluster (JVM) on 127.0.0.1, its learners and AutoML, and MOJO models.

- `session`: one H2O cluster per process, started on demand (about 9 s), shared by the H2O nodes of a
  run and shut down when the run ends (the editor's server keeps it while it lives); or an existing
  cluster given by URL.
- `frames`: DeepNodes tables (number, category and tensor columns) to H2O frames and back, through Arrow
  and Parquet, with no per-row Python loop.
- `learners`: GBM, DRF, GLM and Deep Learning, and AutoML with its leaderboard.
- `model`: `H2OModel`, the object on a `model` port: the model in the cluster plus its MOJO bytes, so it
  scores without a cluster and saves as a plain MOJO file.
- `predict`: in the cluster when the model lives there, otherwise from the MOJO (`mojo_predict_pandas`
  with the jar the `h2o` package carries).
No nodes live here and no torch is imported; `h2o` itself is imported only where it is needed.
"""
