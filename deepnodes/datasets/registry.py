"""The dataset registry: name → loader plus what configure needs to know (splits, output columns).

    register_dataset("my-text", load_my_text, description="...", splits=("train", "test"),
                     spec=lambda: TableSpec(...))

A loader is called as `loader(split=..., local_folder=..., limit=..., base_url=...)` and returns a
`pyarrow.Table` with a `row_id` column. `split` is one of the dataset's splits or "all"; `limit`
(None = every row) caps the rows read; `base_url` ("" = the defaults) replaces the download mirrors.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from ..table.spec import TableSpec


@dataclass(frozen=True)
class DatasetInfo:
    name: str
    loader: Callable[..., Any]
    description: str = ""
    splits: tuple[str, ...] = ()
    spec: TableSpec | Callable[[], TableSpec] | None = None
    extra: dict = field(default_factory=dict, hash=False, compare=False)

    def table_spec(self) -> TableSpec | None:
        return self.spec() if callable(self.spec) else self.spec


_DATASETS: dict[str, DatasetInfo] = {}


def register_dataset(name: str, loader: Callable[..., Any], *, description: str = "", splits: tuple[str, ...] = (),
                     spec: TableSpec | Callable[[], TableSpec] | None = None) -> DatasetInfo:
    """Register a dataset under `name` (the Dataset Reader's `dataset` option)."""
    if name in _DATASETS and _DATASETS[name].loader is not loader:
        raise ValueError(f"dataset '{name}' is registered twice")
    info = DatasetInfo(name, loader, description, tuple(splits), spec)
    _DATASETS[name] = info
    return info


def dataset_names() -> list[str]:
    return sorted(_DATASETS)


def get_dataset(name: str) -> DatasetInfo:
    try:
        return _DATASETS[name]
    except KeyError:
        raise ValueError(f"dataset '{name}' (option 'dataset') is not known; the datasets are "
                         f"{', '.join(dataset_names())}") from None


def check_split(info: DatasetInfo, split: str) -> None:
    if split == "all":
        return
    if not info.splits:
        raise ValueError(f"dataset '{info.name}' has no splits; set option 'split' to 'all'")
    if split not in info.splits:
        raise ValueError(f"dataset '{info.name}' has no split '{split}' (option 'split'); its splits are "
                         f"{', '.join(info.splits)} or all")


def load_dataset(name: str, split: str = "all", local_folder: str | None = None, limit: int | None = None,
                 base_url: str = "", **kw) -> Any:
    """The dataset `name` as a pyarrow Table."""
    info = get_dataset(name)
    check_split(info, split)
    if kw:  # optional extras (e.g. progress=callable(done_bytes, total_bytes)) only go to loaders that take them
        import inspect

        params = inspect.signature(info.loader).parameters
        if not any(p.kind is p.VAR_KEYWORD for p in params.values()):
            kw = {k: v for k, v in kw.items() if k in params}
    return info.loader(split=split, local_folder=local_folder or None, limit=limit, base_url=base_url, **kw)
