"""The Ray engine's tasks read runs of a file's rows and cut them into the very batches ``LocalEngine`` maps
(``ParquetFile.iter_batches``), whatever the file's row groups: a mapper whose numbers depend on its batch (a model
embedding a batch at a time) then gives the same numbers on both engines. No Ray needed: the task's reader is
plain pyarrow."""

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from curation.compute.engine import _read_rows, _row_ranges


@pytest.mark.parametrize("groups", [[10_000], [3000, 3000, 4000], [100, 2999, 1, 4900, 2000], [2048, 2048, 17]])
@pytest.mark.parametrize("batch_size,per_task", [(2048, 4), (500, 1), (1000, 3), (4096, 2)])
def test_task_batches_are_the_local_batches(tmp_path, groups, batch_size, per_task):
    path = tmp_path / "f.parquet"
    rows = sum(groups)
    table = pa.table({"n": pa.array(range(rows), pa.int64()), "text": [f"doc {i}" for i in range(rows)]})
    with pq.ParquetWriter(path, table.schema) as writer:  # one row group per write
        start = 0
        for n in groups:
            writer.write_table(table.slice(start, n))
            start += n
    local = [b.column("n").to_pylist() for b in pq.ParquetFile(path).iter_batches(batch_size=batch_size)]
    tasks = _row_ranges(str(path), batch_size, per_task)
    assert len(tasks) == -(-len(local) // per_task)  # ceil: every task holds per_task batches but the last
    ray = [t.column("n").to_pylist() for a, b in tasks for t in _read_rows(str(path), ["n"], a, b, batch_size)]
    assert ray == local
