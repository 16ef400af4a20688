"""Built-in datasets and the resolver chain that finds their files.

Explicit local folder → installed system package → user cache (`$DEEPNODES_CACHE`, else
`~/.cache/deepnodes`) → download with an md5 check. Other datasets plug in with `register_dataset`
and reuse `fetch` / `resolve_file`:

    from deepnodes.datasets import fetch, register_dataset
    def load_tiny(split="all", local_folder=None, limit=None, base_url="", **kw):
        path = fetch(base_url + "/tiny.txt", md5="...", cache_subdir="tiny")
        ...
    register_dataset("tiny", load_tiny, description="...", splits=(), spec=...)

Importing this package does not import pyarrow or numpy; loaders import them when called.
"""
from .registry import DatasetInfo, check_split, dataset_names, get_dataset, load_dataset, register_dataset
from .resolver import ChecksumError, DatasetNotFound, cache_dir, fetch, md5_of, resolve_file
from . import images as _images  # noqa: F401,E402 - registers the built-in image datasets
from . import text as _text  # noqa: F401,E402 - registers kjv-bible and en-de-pairs (text helper's module)

__all__ = ["DatasetInfo", "check_split", "dataset_names", "get_dataset", "load_dataset", "register_dataset",
           "ChecksumError", "DatasetNotFound", "cache_dir", "fetch", "md5_of", "resolve_file"]
