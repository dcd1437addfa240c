"""Every parquet file the lake writes, empty partitions and empty drop tables included, opens in
the readers a data team points at it: pyarrow, DuckDB and HF ``datasets``. ``datasets`` refuses a
file holding one 0-row row group ("BatchSize must be greater than 0") even beside non-empty files,
so an empty output is written with no row group at all."""

import duckdb
import pyarrow.parquet as pq

from curation.ingest import ingest_category
from curation.lake import Lake
from tests.conftest import EN_DOCS, write_jsonl


def test_empty_partitions_and_drop_tables_open_in_pyarrow_duckdb_and_hf_datasets(home, tmp_path):
    import datasets

    write_jsonl(home / "landing/all_good/a.jsonl", [{"text": t} for t in EN_DOCS])  # nothing dropped
    write_jsonl(home / "landing/all_bad/a.jsonl", [], raw_lines=[b"{not json\n", b'{"id": 1}\n'])  # nothing kept
    lake = Lake(home)
    assert ingest_category(lake, "all_good").docs_total == len(EN_DOCS)
    assert ingest_category(lake, "all_bad").docs_total == 0

    rows = {}
    for path in sorted((home / "lake").rglob("*.parquet")):
        meta = pq.ParquetFile(path).metadata
        assert meta.num_rows > 0 or meta.num_row_groups == 0, f"{path}: an empty file must hold no row group"
        with duckdb.connect() as con:
            assert con.execute("SELECT count(*) FROM read_parquet(?)", [str(path)]).fetchone()[0] == meta.num_rows
        rows[path.relative_to(home / "lake").as_posix()] = meta.num_rows
    assert [n for p, n in rows.items() if p.startswith("raw/all_bad/")] == [0], rows  # the empty partition
    assert [n for p, n in rows.items() if p.startswith("drops/raw/all_bad/")] == [2], rows

    # a whole stage at once, empty partitions among the others: how a user loads the lake
    files = sorted(str(home / "lake" / p) for p in rows if p.startswith("raw/"))
    loaded = datasets.load_dataset("parquet", data_files=files, split="train", cache_dir=str(tmp_path / "hf"))
    assert len(loaded) == len(EN_DOCS)
