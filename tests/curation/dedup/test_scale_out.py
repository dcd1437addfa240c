"""Dedup past one process: the band join in hash partitions finds the copies the single join finds, even
when they sit in different shard files and categories; per-shard signature files mean a re-run hashes
nothing it has hashed, and a killed run resumes after its last completed shard without writing a document
twice."""

from pydoc_data.topics import topics

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import curation.dedup.signatures as signatures_module
from curation.compute import ParquetFiles
from curation.dedup import DedupConfig, dedup_partition
from curation.document import DOC_SCHEMA, DROP_SCHEMA
from curation.hashing import file_sha256
from curation.lake import Lake, PartitionWriter
from tests.curation.dedup.helpers import batch, paragraph, peoples_daily, read_drops

TOPICS = [t for t in sorted(topics) if len(topics[t].split()) > 120][:24]


def edited(text: str, k: int) -> str:
    words = text.split()
    words[len(words) // 3] = f"edited{k}"
    return " ".join(words[:-6])


def write_raw(lake: Lake, category: str, files: list[list[tuple[str, str]]]) -> ParquetFiles:
    folder = lake.stage_dir("raw", category)
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("*.parquet"):
        old.unlink()
    for i, docs in enumerate(files):
        pq.write_table(pa.Table.from_batches([batch(docs, category)]), folder / f"shard-{i:02d}.parquet")
    return ParquetFiles.of(lake.files("raw", category))


def dedup(lake: Lake, category: str, source, **kwargs) -> tuple[dict, list[str], dict]:
    with PartitionWriter(lake.stage_dir("deduped", category), DOC_SCHEMA) as out, \
            PartitionWriter(lake.drops_dir("deduped", category), DROP_SCHEMA) as drops:
        stats = dedup_partition(source, category, lake, DedupConfig(), out, drops, **kwargs)
    return stats, lake.read("deduped", category).column("id").to_pylist(), read_drops(lake, category)


def spread_corpus():
    """Originals in the first files; their edited copies in the last file and in another category."""
    originals = [(f"doc-{t}", paragraph(t)) for t in TOPICS]
    files = [originals[i:i + 6] for i in range(0, len(originals), 6)]
    files.append([(f"copy-{k}", edited(text, k)) for k, (_, text) in enumerate(originals[::4])])
    files[1].append(("zh-1", peoples_daily(4)))
    other = [[(f"other-{k}", edited(text, 100 + k)) for k, (_, text) in enumerate(originals[1::5])],
             [("zh-copy", peoples_daily(4)[:-10] + "（完）")]]
    return files, other


@pytest.mark.parametrize("parts", [4, 7])
def test_hash_partitioned_band_join_finds_what_the_single_join_finds(tmp_path, parts):
    files, other = spread_corpus()
    results = {}
    for p in (1, parts):
        lake = Lake(tmp_path / f"p{p}")
        a = dedup(lake, "web", write_raw(lake, "web", files), band_partitions=p)
        b = dedup(lake, "books", write_raw(lake, "books", other), band_partitions=p)
        results[p] = (a, b)
    (one_web, one_books), (many_web, many_books) = results[1], results[parts]
    assert one_web[1:] == many_web[1:] and one_books[1:] == many_books[1:]  # kept ids and every drop record
    web_drops, books_drops = many_web[2], many_books[2]
    assert {d for d in web_drops if d.startswith("copy-")} == {f"copy-{k}" for k in range(len(TOPICS[::4]))}
    assert web_drops["copy-1"]["duplicate_of"] == f"doc-{TOPICS[4]}"  # original in file 0, copy in file 4
    assert set(books_drops) == {f"other-{k}" for k in range(len(TOPICS[1::5]))} | {"zh-copy"}
    assert books_drops["zh-copy"]["duplicate_of"] == "zh-1"  # across categories and files
    join = many_books[0]["band_join"]
    assert join["partitions"] == parts and 0 < join["keys_per_partition_max"] < join["keys_total"]
    for key in ("candidate_pairs", "verified_pairs", "candidate_pairs_vs_index"):
        assert one_books[0][key] == many_books[0][key]


def counting(monkeypatch) -> list[int]:
    """Count the documents whose MinHash signatures are computed."""
    counted = []
    real = signatures_module.signatures

    def wrapped(hashes, offsets, config):
        counted.append(len(offsets) - 1)
        return real(hashes, offsets, config)

    monkeypatch.setattr(signatures_module, "signatures", wrapped)
    return counted


def test_rerunning_a_category_does_not_rehash_indexed_documents(tmp_path, monkeypatch):
    files, _ = spread_corpus()
    lake = Lake(tmp_path / "home")
    counted = counting(monkeypatch)
    first = dedup(lake, "web", write_raw(lake, "web", files))
    n_docs = sum(map(len, files))
    assert sum(counted) == n_docs and first[0]["docs_signed"] == n_docs

    counted.clear()
    again = dedup(lake, "web", ParquetFiles.of(lake.files("raw", "web")))
    assert counted == [] and again[0]["docs_signed"] == 0 and again[0]["docs_from_cache"] == n_docs
    assert again[1:] == first[1:]

    # a new shard: only its documents are hashed; a shard that left the partition loses its signature file
    new_files = files[1:] + [[("late", paragraph("with"))]]
    write_raw(lake, "web", new_files)
    counted.clear()
    third = dedup(lake, "web", ParquetFiles.of(lake.files("raw", "web")))
    assert third[0]["docs_signed"] == sum(counted) == 1  # shards renamed (renumbered), content unchanged: cached
    assert third[0]["signature_files_pruned"] >= 1 and "late" in third[1]


def test_a_killed_run_resumes_after_its_last_completed_shard(tmp_path, monkeypatch):
    files, _ = spread_corpus()
    clean = dedup(Lake(tmp_path / "clean"), "web", write_raw(Lake(tmp_path / "clean"), "web", files))

    lake = Lake(tmp_path / "home")
    source = write_raw(lake, "web", files)
    counted = counting(monkeypatch)
    real_call = signatures_module.SignatureMapper.__call__
    calls = []

    def failing(self, table):
        calls.append(table.num_rows)
        if len(calls) == 3:  # killed while hashing the third shard
            raise KeyboardInterrupt("injected kill after batch 2")
        return real_call(self, table)

    monkeypatch.setattr(signatures_module.SignatureMapper, "__call__", failing)
    with pytest.raises(KeyboardInterrupt):
        dedup(lake, "web", source)
    assert lake.files("deduped", "web") == []  # nothing half-written reached the lake
    done = sorted(signatures_module.cache_dir(lake.state_dir("deduped"), "web").glob("*.parquet"))
    shard_digests = [file_sha256(p)[:32] for p in source.paths]
    assert sorted(f.name.split(".")[0] for f in done) == sorted(shard_digests[:2])

    monkeypatch.setattr(signatures_module.SignatureMapper, "__call__", real_call)
    counted.clear()
    resumed = dedup(lake, "web", source)
    assert resumed[0]["shards_from_cache"] == 2
    assert sum(counted) == resumed[0]["docs_signed"] == sum(map(len, files[2:]))  # only the shards not done
    assert resumed[1] == clean[1] and len(set(resumed[1])) == len(resumed[1])  # every document once
    assert resumed[2] == clean[2]
