"""A killed ingest resumes after its last completed shard: the shards it finished are not read again, and
every document is in the lake exactly once."""

import pytest

from curation import ingest
from curation.lake import Lake
from tests.conftest import EN_DOCS, ZH_DOCS, write_jsonl


def landing(home, n_shards=5):
    for i in range(n_shards):
        docs = EN_DOCS if i % 2 else ZH_DOCS
        write_jsonl(home / "landing" / "mixed" / f"s{i}.jsonl", [{"id": f"s{i}-{k}", "text": t}
                                                                 for k, t in enumerate(docs)])


def test_killed_ingest_resumes_after_the_last_completed_shard(tmp_path, monkeypatch):
    clean_home, home = tmp_path / "clean", tmp_path / "home"
    landing(clean_home), landing(home)
    clean = ingest.ingest_category(Lake(clean_home), "mixed")

    real = ingest._ingest_shard
    read = []

    def killed_after_two(path, *args, **kwargs):
        read.append(path.name)
        if len(read) == 3:
            raise KeyboardInterrupt("injected kill while reading the third shard")
        return real(path, *args, **kwargs)

    monkeypatch.setattr(ingest, "_ingest_shard", killed_after_two)
    with pytest.raises(KeyboardInterrupt):
        ingest.ingest_category(Lake(home), "mixed")
    assert ingest.load_manifest(Lake(home), "mixed") == {}  # the manifest is written at the end only

    read.clear()
    monkeypatch.setattr(ingest, "_ingest_shard", lambda path, *a, **k: (read.append(path.name), real(path, *a, **k))[1])
    resumed = ingest.ingest_category(Lake(home), "mixed")
    assert resumed.shards_resumed == 2 and read == ["s2.jsonl", "s3.jsonl", "s4.jsonl"]
    ids = Lake(home).read("raw", "mixed").column("id").to_pylist()
    assert sorted(ids) == sorted(Lake(clean_home).read("raw", "mixed").column("id").to_pylist())
    assert len(ids) == len(set(ids)) == clean.docs_total == resumed.docs_total
    assert list((home / "state/raw/mixed/done").glob("*.json")) == []  # folded into the manifest

    again = ingest.ingest_category(Lake(home), "mixed")
    assert again.shards_unchanged == 5 and again.shards_resumed == 0 and again.docs_ingested == 0
