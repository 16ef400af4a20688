"""Reading and writing tables as CSV and Parquet files.

Readers add the carried `row_id` column; writers leave it out unless asked. Errors are one sentence
naming the file (and, for a ragged CSV row, the line).

    >>> t = read_csv("iris.csv")                      # doctest: +SKIP
    >>> write_table(t, "iris.parquet")                # doctest: +SKIP
"""
from __future__ import annotations

from pathlib import Path

import pyarrow as pa

from .arrow import ROW_ID, kind_of, with_row_id
from .spec import ColumnError

FORMATS = ("csv", "parquet")
TEXT_CHUNK = 1 << 20


def _csv_options(delimiter: str, has_header: bool, column_names, skip_rows: int, quote_char: str | None,
                 use_threads: bool = True, handler=None):
    import pyarrow.csv as pcsv

    read = pcsv.ReadOptions(use_threads=use_threads, skip_rows=skip_rows,
                            column_names=list(column_names) if column_names else None,
                            autogenerate_column_names=not has_header and not column_names)
    parse = pcsv.ParseOptions(delimiter=delimiter, quote_char=quote_char or False, invalid_row_handler=handler)
    return read, parse


def _check_file(path: str | Path, what: str) -> Path:
    p = Path(path)
    if not str(path):
        raise ValueError(f"no {what} file is set; set option 'path'")
    if not p.exists():
        raise FileNotFoundError(f"the {what} file '{p}' does not exist")
    if p.is_dir():
        raise IsADirectoryError(f"'{p}' is a folder, not a {what} file")
    return p


def _check_text(p: Path, whole: bool) -> None:
    """A CSV file must be UTF-8 text: NUL bytes (binary data) and invalid UTF-8 are one sentence naming the byte
    and line. `whole=False` checks the first MiB (configure), `whole=True` the whole file (before a full read)."""
    import codecs

    decoder = codecs.getincrementaldecoder("utf-8")()
    offset, lines = 0, 1
    with open(p, "rb") as f:
        while chunk := f.read(TEXT_CHUNK):
            nul = chunk.find(b"\0")
            if nul >= 0:
                line = lines + chunk.count(b"\n", 0, nul)
                raise ValueError(f"CSV file '{p.name}' is binary data, not text: byte {offset + nul} (line {line}) "
                                 "is a NUL byte")
            try:
                decoder.decode(chunk, final=len(chunk) < TEXT_CHUNK)
            except UnicodeDecodeError as e:
                at = min(max(e.start, 0), len(chunk) - 1)
                line = lines + chunk.count(b"\n", 0, at)
                raise ValueError(f"CSV file '{p.name}' is not UTF-8 text: byte {offset + at} (line {line}) is "
                                 f"0x{chunk[at]:02x}; save it as UTF-8") from None
            offset += len(chunk)
            lines += chunk.count(b"\n")
            if not whole:
                return


def _check_columns(p: Path, schema: pa.Schema) -> None:
    """Column names are unique (the header names each column once)."""
    seen: dict[str, int] = {}
    for i, name in enumerate(schema.names):
        if name in seen:
            raise ValueError(f"CSV file '{p.name}' names two columns '{name}' (columns {seen[name] + 1} and {i + 1}); "
                             "rename one in the header")
        seen[name] = i


def _ragged_error(p: Path, delimiter, has_header, column_names, skip_rows, quote_char) -> ValueError | None:
    """Re-read single-threaded to find the line of the first ragged row (pyarrow numbers rows only then)."""
    import pyarrow.csv as pcsv

    bad: list = []

    def handler(row):
        bad.append(row)
        return "error"

    read, parse = _csv_options(delimiter, has_header, column_names, skip_rows, quote_char, False, handler)
    try:
        pcsv.read_csv(p, read_options=read, parse_options=parse)
    except pa.ArrowInvalid:
        pass
    if not bad:
        return None
    row = bad[0]
    line = row.number  # pyarrow counts every physical line, skipped ones included
    where = f"line {line}" if line is not None else f"the row '{row.text}'"
    return ValueError(f"CSV file '{p.name}' has a ragged row at {where}: expected {row.expected_columns} "
                      f"fields, found {row.actual_columns}")


def read_csv(path: str | Path, delimiter: str = ",", has_header: bool = True, column_names=None,
             skip_rows: int = 0, quote_char: str | None = '"', limit: int | None = None) -> pa.Table:
    """A CSV file as a table with a leading `row_id` column; a ragged row raises a sentence naming the line."""
    import pyarrow.csv as pcsv

    p = _check_file(path, "CSV")
    _check_text(p, whole=True)
    read, parse = _csv_options(delimiter, has_header, column_names, skip_rows, quote_char)
    try:
        table = pcsv.read_csv(p, read_options=read, parse_options=parse)
    except pa.ArrowInvalid as e:
        msg = str(e)
        if "Expected" in msg and "columns" in msg:
            err = _ragged_error(p, delimiter, has_header, column_names, skip_rows, quote_char)
            if err is not None:
                raise err from None
        if "Empty CSV file" in msg:
            raise ValueError(f"CSV file '{p.name}' is empty") from None
        first = msg.splitlines()[0] if msg else type(e).__name__
        raise ValueError(f"CSV file '{p.name}' could not be read: {first}") from None
    _check_columns(p, table.schema)
    if table.num_rows == 0:
        raise ValueError(f"CSV file '{p.name}' has a header but no rows")
    if limit is not None:
        table = table.slice(0, limit)
    return with_row_id(table)


def csv_schema(path: str | Path, delimiter: str = ",", has_header: bool = True, column_names=None,
               skip_rows: int = 0, quote_char: str | None = '"') -> pa.Schema:
    """The schema pyarrow infers from the first block of a CSV file (cheap: used at configure time).

    Types inferred from the first block can differ from a full read on odd files; the engine then
    replaces the configured spec with the real one after the node ran.
    """
    import pyarrow.csv as pcsv

    p = _check_file(path, "CSV")
    _check_text(p, whole=False)
    read, parse = _csv_options(delimiter, has_header, column_names, skip_rows, quote_char)
    try:
        with pcsv.open_csv(p, read_options=read, parse_options=parse) as reader:
            schema = reader.schema
            if all(pa.types.is_null(f.type) for f in schema):  # only a header so far: are there rows at all?
                try:
                    empty = reader.read_next_batch().num_rows == 0
                except StopIteration:
                    empty = True
                if empty:
                    raise ValueError(f"CSV file '{p.name}' has a header but no rows")
    except pa.ArrowInvalid as e:
        if "Empty CSV file" in str(e):
            raise ValueError(f"CSV file '{p.name}' is empty") from None
        if "Expected" in str(e) and "columns" in str(e):
            err = _ragged_error(p, delimiter, has_header, column_names, skip_rows, quote_char)
            if err is not None:
                raise err from None
        raise ValueError(f"CSV file '{p.name}' could not be read: {str(e).splitlines()[0]}") from None
    _check_columns(p, schema)
    if ROW_ID not in schema.names:
        schema = schema.insert(0, pa.field(ROW_ID, pa.int64()))
    return schema


def _parquet_error(p: Path, e: Exception) -> ValueError:
    first = (str(e).strip().splitlines() or [type(e).__name__])[0].rstrip(".: ")
    return ValueError(f"Parquet file '{p.name}' could not be read (damaged, or not a Parquet file): {first}")


def read_parquet(path: str | Path, columns=None, limit: int | None = None) -> pa.Table:
    import pyarrow.parquet as pq

    p = _check_file(path, "Parquet")
    try:
        if limit is not None:
            pf = pq.ParquetFile(p)
            batches = []
            n = 0
            for b in pf.iter_batches(batch_size=min(max(limit, 1), 65536), columns=columns):
                batches.append(b)
                n += b.num_rows
                if n >= limit:
                    break
            table = pa.Table.from_batches(batches, schema=pf.schema_arrow if columns is None else None)
            table = table.slice(0, limit)
        else:
            table = pq.read_table(p, columns=columns)
    except (pa.ArrowException, OSError) as e:  # a damaged file: thrift, decompression, truncation
        raise _parquet_error(p, e) from None
    return with_row_id(table)


def parquet_schema(path: str | Path) -> pa.Schema:
    import pyarrow.parquet as pq

    p = _check_file(path, "Parquet")
    try:
        schema = pq.read_schema(p)
    except (pa.ArrowException, OSError) as e:
        raise _parquet_error(p, e) from None
    if ROW_ID not in schema.names:
        schema = schema.insert(0, pa.field(ROW_ID, pa.int64()))
    return schema


def write_csv(table: pa.Table, path: str | Path, delimiter: str = ",", include_header: bool = True) -> Path:
    """Write a table as CSV; tensor, image and token columns can't be CSV cells and are refused by name."""
    import pyarrow.csv as pcsv

    from .ops import a_kind

    for f in table.schema:
        k = kind_of(f)
        if k in ("tensor", "image", "token_sequence", "other"):
            raise ColumnError(f"column '{f.name}' is {a_kind(k)} column, which a CSV file cannot hold; "
                              "write Parquet or filter the column out first")
    cols = []
    for f, c in zip(table.schema, table.columns):
        cols.append(c.cast(f.type.value_type) if pa.types.is_dictionary(f.type) else c)
    table = pa.table(cols, names=table.column_names)
    p = Path(path)
    tmp = p.with_name(p.name + ".tmp")
    pcsv.write_csv(table, tmp, write_options=pcsv.WriteOptions(include_header=include_header, delimiter=delimiter))
    tmp.replace(p)
    return p


def write_parquet(table: pa.Table, path: str | Path, compression: str = "zstd") -> Path:
    """Write a table as Parquet; kinds, categories and tensor columns survive a round trip."""
    import pyarrow.parquet as pq

    p = Path(path)
    tmp = p.with_name(p.name + ".tmp")
    pq.write_table(table, tmp, compression=compression)
    tmp.replace(p)
    return p


def write_table(table: pa.Table, path: str | Path, format: str | None = None, include_row_id: bool = False,
                **kw) -> Path:
    """Write `table` as CSV or Parquet (from `format`, else the file extension)."""
    p = Path(path)
    fmt = format or ("parquet" if p.suffix.lower() in (".parquet", ".pq") else "csv")
    if fmt not in FORMATS:
        raise ValueError(f"format '{fmt}' (option 'format') is not one of {', '.join(FORMATS)}")
    if not p.parent.exists():
        raise FileNotFoundError(f"the folder '{p.parent}' for the output file does not exist")
    if not include_row_id and ROW_ID in table.column_names:
        table = table.drop_columns([ROW_ID])
    return write_csv(table, p, **kw) if fmt == "csv" else write_parquet(table, p, **kw)
