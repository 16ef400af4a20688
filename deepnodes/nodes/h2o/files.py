"""H2O models through the Model Writer and Model Reader nodes (MOJO; H2O's binary model only with trust)."""
from __future__ import annotations

from pathlib import Path

from deepnodes.core import NodeError


def write_h2o_model(model, config, ctx) -> None:
    """Write `model` as the Model Writer's options say: a MOJO ('auto' / 'mojo') or H2O's binary model."""
    from deepnodes.h2o.model import write_file
    from deepnodes.h2o.session import current

    if config.format in ("skops", "pickle"):
        raise NodeError(f"option 'format' '{config.format}' is for scikit-learn models; an H2O model is written "
                        f"as 'mojo' (or 'binary')")
    path = Path(config.path).expanduser()
    if path.exists() and not config.overwrite:
        raise NodeError(f"'{path}' (option 'path') exists and option 'overwrite' is off")
    fmt = "binary" if config.format == "binary" else "mojo"
    write_file(model, path, fmt, session=current() if fmt == "binary" else None)
    ctx.log(f"wrote the H2O {model.algorithm} model to {path} as {'a MOJO' if fmt == 'mojo' else 'a binary model'}")


def read_h2o_model(path: Path, trust: bool, ctx):
    """A MOJO (no session needed), or with `trust` an H2O binary model loaded into the run's session."""
    from deepnodes.h2o.model import BINARY_ENTRY, read_file

    session = None
    if trust:
        import zipfile

        with zipfile.ZipFile(path) as z:
            binary = BINARY_ENTRY in z.namelist()
        if binary:
            from ._common import SessionConfig, open_session

            session = open_session(SessionConfig(), ctx)
    return read_file(path, trust, session_for_binary=session)
