"""Classic machine learning on tables: XGBoost and a curated list of scikit-learn estimators.

`features` turns number and tensor columns into a feature matrix (and a target into class indices),
`model` holds the fitted model that flows through a `model` port (save / load: XGBoost's JSON format,
scikit-learn through skops; pickle only when a user trusts the file), `fit` trains and `predict` applies.
No nodes live here; modules import xgboost / sklearn only where they need them.
"""
