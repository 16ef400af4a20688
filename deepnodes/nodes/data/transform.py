"""Value transforms: Category to Number, One-Hot, Normalizer and Normalizer Apply."""
from __future__ import annotations

from typing import Literal

from pydantic import Field

from deepnodes.core import In, Node, NodeConfig, NodeError, Out, limits, node


@node("deepnodes.data.CategoryToNumber", name="Category to Number", category="Data/Transform")
class CategoryToNumber(Node):
    """Turns category (or string) columns into integers start, start+1, ... in category order; the mapping
    (column, category, number) is the second output."""
    inputs = [In("table", "table", "the table")]
    outputs = [Out("table", "table", "the table with number columns"),
               Out("mapping", "table", "the mapping: column, category, number")]

    class Config(NodeConfig):
        columns: list[str] = Field([], description="the category columns to convert")
        suffix: str = Field("", description="append new columns named column + suffix; empty = replace the columns")
        start: int = Field(0, le=limits.ROWS, description="the number of the first category")

    def configure(self, specs):
        from deepnodes.table.ops import category_to_number_spec

        return list(category_to_number_spec(specs[0], self.config.columns, self.config.suffix))

    def execute(self, inputs, ctx):
        from deepnodes.table.ops import category_to_number

        c = self.config
        return list(category_to_number(inputs[0], c.columns, c.suffix, c.start))


@node("deepnodes.data.OneHot", name="One-Hot", category="Data/Transform")
class OneHot(Node):
    """A category, string or integer column as a (K,) float32 one-hot tensor column (e.g. targets for a
    categorical cross-entropy loss)."""
    inputs = [In("table", "table", "the table")]
    outputs = [Out("table", "table", "the table with the one-hot column")]

    class Config(NodeConfig):
        column: str = Field("", description="the category or integer column")
        output_column: str = Field("", description="name of the one-hot column; empty = column + '_onehot'")
        num_classes: int = Field(0, ge=0, le=limits.VOCAB,
            description="number of classes K; 0 = the column's categories "
                                                     "(or the largest integer + 1)")
        remove_source: bool = Field(False, description="remove the source column")

    def configure(self, specs):
        from deepnodes.table.ops import one_hot_spec

        c = self.config
        return [one_hot_spec(specs[0], c.column, c.output_column, c.num_classes, c.remove_source)]

    def execute(self, inputs, ctx):
        from deepnodes.table.ops import one_hot

        c = self.config
        return [one_hot(inputs[0], c.column, c.output_column, c.num_classes, c.remove_source)]


@node("deepnodes.data.Normalizer", name="Normalizer", category="Data/Transform")
class Normalizer(Node):
    """Normalizes number (and tensor) columns by min-max to [new_min, new_max] or by z-score; outputs the
    fitted normalizer for Normalizer Apply (e.g. on the test partition)."""
    inputs = [In("table", "table", "the table to fit on and normalize")]
    outputs = [Out("table", "table", "the normalized table"),
               Out("model", "model", "the fitted normalizer")]

    class Config(NodeConfig):
        columns: list[str] = Field([], description="the number, integer or tensor columns to normalize")
        method: Literal["minmax", "zscore"] = Field("minmax", description="min-max scaling or z-score standardization")
        new_min: float = Field(0.0, description="lower end of the min-max range")
        new_max: float = Field(1.0, description="upper end of the min-max range")

    def configure(self, specs):
        from deepnodes.table.normalizer import fitted_spec

        c = self.config
        if c.method == "minmax" and not c.new_max > c.new_min:
            raise NodeError(f"option 'new_max' ({c.new_max}) must be greater than option 'new_min' ({c.new_min})")
        return list(fitted_spec(specs[0], c.columns, c.method))

    def execute(self, inputs, ctx):
        from deepnodes.table.normalizer import Normalizer as Fitted

        c = self.config
        norm = Fitted.fit(inputs[0], c.columns, c.method, c.new_min, c.new_max)
        return [norm.apply(inputs[0]), norm]


@node("deepnodes.data.NormalizerApply", name="Normalizer Apply", category="Data/Transform")
class NormalizerApply(Node):
    """Applies a fitted normalizer (or its inverse) to a table with the same columns."""
    inputs = [In("model", "model", "the fitted normalizer"), In("table", "table", "the table to normalize")]
    outputs = [Out("table", "table", "the normalized table")]

    class Config(NodeConfig):
        inverse: bool = Field(False, description="map normalized values back to the original scale")

    def configure(self, specs):
        from deepnodes.table.normalizer import KINDS
        from deepnodes.table.ops import a_kind
        from deepnodes.table.spec import ColumnError, ColumnSpec

        model, spec = specs
        if model is not None and getattr(model, "model_type", None) != "normalizer":
            raise NodeError(f"the model input holds a {getattr(model, 'model_type', 'unknown')} model; "
                            "connect a Normalizer's model output")
        if model is None:
            return [None]
        new = []
        for name in model.info.get("columns", []):
            col = spec.column(name, option="normalizer columns")
            if col.kind not in KINDS:
                raise ColumnError(f"column '{name}' is {a_kind(col.kind)} column; the normalizer needs a number, integer "
                                  "or tensor column")
            new.append(ColumnSpec(name, "tensor", "float", col.shape) if col.kind == "tensor"
                       else ColumnSpec(name, "number", "double"))
        return [spec.with_columns(new)]

    def execute(self, inputs, ctx):
        model, table = inputs
        return [model.apply(table, inverse=self.config.inverse)]
