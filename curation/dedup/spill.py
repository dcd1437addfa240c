"""Disk-backed pieces of one dedup run, so the driver's memory is a batch, not the partition's removals.

``DropSpill`` collects the run's drop records in ledger order in a parquet file of the work folder (counted by
reason as they come); ``RowCursor`` walks a stream sorted by row number in step with the partition's ordered
scan (the paragraph cuts while the texts are edited, the edited texts while the kept rows are written).
"""

from collections import Counter
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from curation.document import DROP_SCHEMA
from curation.lake import BATCH_ROWS, iter_parquet

# Text per slice of such a batch: 2,048 source files of ~16 KB are 34 MB of text, several copies of which (Python
# strings, the edited column, the parquet writer's pages) would otherwise be alive at once.
SLICE_TEXT_BYTES = 8 << 20


class DropSpill:
    """DROP_SCHEMA rows appended in order to ``path``; ``counts`` by reason. Read back with ``batches``."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.counts: Counter = Counter()
        self.rows = 0
        self._writer: pq.ParquetWriter | None = None

    def write(self, table: pa.Table) -> None:
        if table.num_rows == 0:
            return
        if self._writer is None:
            self._writer = pq.ParquetWriter(self.path, DROP_SCHEMA, compression="lz4")
        self._writer.write_table(table.cast(DROP_SCHEMA))
        self.rows += table.num_rows
        for item in pc.value_counts(table.column("reason")).to_pylist():
            self.counts[item["values"]] += item["counts"]

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None

    def batches(self, columns: list[str] | None = None) -> Iterator[pa.RecordBatch]:
        self.close()
        if self.rows:
            yield from iter_parquet(self.path, batch_size=BATCH_ROWS, columns=columns)


def text_slices(table: pa.Table | pa.RecordBatch, max_bytes: int = SLICE_TEXT_BYTES) -> Iterator:
    """``table`` cut (zero-copy, in order) into slices of about ``max_bytes`` of its ``text`` column (a longer
    row is a slice of its own); a table without that column comes whole."""
    if "text" not in table.schema.names or table.num_rows == 0:
        if table.num_rows:
            yield table
        return
    sizes = pc.binary_length(table.column("text")).fill_null(0).to_numpy(zero_copy_only=False)
    bounds = np.searchsorted(np.cumsum(sizes), np.arange(max_bytes, sizes.sum(), max_bytes))
    start = 0
    for end in [*np.unique(bounds + 1).tolist(), table.num_rows]:
        end = min(end, table.num_rows)
        if end > start:
            yield table.slice(start, end - start)
            start = end


def drop_rows(doc_ids, category: str, stage: str, reason: str, param_version: str, duplicate_of=None,
              similarity=None, detail=None) -> pa.Table:
    """A DROP_SCHEMA table from columns (arrays or lists; None: null; a str ``detail``: the same for every row)."""
    n = len(doc_ids)

    def column(values, type_):
        if values is None:
            return pa.nulls(n, type_)
        if isinstance(values, str):
            return pa.array([values] * n, type_)
        return values.cast(type_) if isinstance(values, (pa.Array, pa.ChunkedArray)) else pa.array(values, type_)

    return pa.table([column(doc_ids, pa.string()), column(category, pa.string()), column(stage, pa.string()),
                     column(reason, pa.string()), column(duplicate_of, pa.string()),
                     column(similarity, pa.float64()), column(detail, pa.string()),
                     column(param_version, pa.string())], schema=DROP_SCHEMA)


class RowCursor:
    """A stream of tables sorted by the int64 column ``row``, taken in step with an ordered scan: ``upto(r)``
    gives every row not yet taken whose ``row`` is at most ``r``. Holds one batch of the stream at a time."""

    def __init__(self, batches: Iterable[pa.RecordBatch | pa.Table], row: str):
        self._batches = iter(batches)
        self._row = row
        self._held: pa.Table | None = None
        self._done = False

    def upto(self, last: int) -> pa.Table | None:
        parts = []
        while True:
            if self._held is None or self._held.num_rows == 0:
                if self._done:
                    break
                nxt = next(self._batches, None)
                if nxt is None:
                    self._done = True
                    break
                self._held = nxt if isinstance(nxt, pa.Table) else pa.Table.from_batches([nxt])
                continue
            rows = self._held.column(self._row)
            k = int(pc.sum(pc.less_equal(rows, last)).as_py() or 0)  # sorted: the first k rows are <= last
            if k:
                parts.append(self._held.slice(0, k))
            if k < self._held.num_rows:
                self._held = self._held.slice(k)
                break
            self._held = None
        return pa.concat_tables(parts) if parts else None

    def rest(self) -> int:
        """Read the stream to its end (a DuckDB result must be, before its connection runs anything else);
        returns how many rows were left untaken."""
        left = self._held.num_rows if self._held is not None else 0
        self._held = None
        if not self._done:
            left += sum(b.num_rows for b in self._batches)
            self._done = True
        return left
