"""Classic machine learning nodes: XGBoost and scikit-learn learners and predictors, model files."""
