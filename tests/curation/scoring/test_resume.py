"""Scoring resumes by shard file: a killed run's finished files are not scored again, the resumed output is the
uninterrupted run's, a new shard is the only file scored, and a changed config starts over."""

from dataclasses import replace

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from curation.compute import LocalEngine, ParquetFiles
from curation.document import DOC_SCHEMA, DROP_SCHEMA
from curation.lake import PartitionWriter
from curation.scoring import (
    ScoringModels,
    load_scoring_config,
    resume,
    score_partition,
    scored_schema,
    stage,
    train_dclm_fasttext,
    train_edu_regressor,
    train_kenlm,
)
from curation.scoring.config import config_version
from tests.curation.scoring.test_config import CONFIG
from tests.curation.scoring.test_models import hashing_embedder
from tests.curation.scoring.texts import EN_REFERENCE, ZH_NEWS, stdlib_sources

SPAM = "\n".join(["Buy cheap watches online today, best prices guaranteed!"] * 30)
# stats that measure this run's time, not its result
TIMING = {"seconds", "mb_per_s", "seconds_by_step", "files_resumed", "resumable"}


@pytest.fixture(scope="module")
def models(tmp_path_factory) -> ScoringModels:
    """Trained from files, as the asset loads them: resumable, since the parts can name the models."""
    d = tmp_path_factory.mktemp("models")
    code = stdlib_sources(60)
    lm_path, _ = train_kenlm(EN_REFERENCE, 3, d)
    ft_path, _ = train_dclm_fasttext(EN_REFERENCE, code, d)
    edu_path, _ = train_edu_regressor(EN_REFERENCE + code, [4] * 60 + [1] * len(code), hashing_embedder, d)
    return ScoringModels.load(load_scoring_config(CONFIG), lm_path, ft_path, edu_path, embedder=hashing_embedder)


def shard(path, k: int, texts: list[str]):
    rows = [{"id": f"s{k}-{i}", "text": t, "category": "manuals", "source_shard": f"s{k}", "source_line": i,
             "meta": None} for i, t in enumerate(texts)]
    pq.write_table(pa.Table.from_pylist(rows, schema=DOC_SCHEMA), path)
    return path


def shards(root, n: int = 4):
    """Real reference-manual paragraphs, a spam page and a Chinese paragraph in every shard (drops in each)."""
    root.mkdir(parents=True, exist_ok=True)
    return [shard(root / f"shard-{k}.parquet", k, EN_REFERENCE[6 * k: 6 * k + 6] + [SPAM, ZH_NEWS])
            for k in range(n)]


def score(root, paths, models, parts=None, config=None, engine=None):
    config = config or load_scoring_config(CONFIG)
    schema = scored_schema(DOC_SCHEMA)
    out = PartitionWriter(root / "scored", schema)
    drops = PartitionWriter(root / "drops", DROP_SCHEMA)
    stats = score_partition(ParquetFiles.of(paths), "manuals", config, models, out, drops, engine=engine,
                            parts=parts)
    return stats, pq.read_table(out.commit()).to_pylist(), pq.read_table(drops.commit()).to_pylist()


@pytest.fixture
def scored_docs(monkeypatch):
    """Counts the documents the rules see (each one scored in this run)."""
    seen = []
    apply_rules = stage._apply_rules

    def counting(batch, *args):
        seen.extend(batch.column("id").to_pylist())
        return apply_rules(batch, *args)

    monkeypatch.setattr(stage, "_apply_rules", counting)
    return seen


def test_a_killed_run_resumes_after_its_last_finished_file(tmp_path, models, scored_docs, monkeypatch):
    paths = shards(tmp_path / "shards")
    expected_stats, expected_rows, expected_drops = score(tmp_path / "fresh", paths, models)
    assert len(expected_rows) > 10 and len(expected_drops) >= 4  # the comparison below is not vacuous

    commits = []
    real_commit = resume.FilePart.commit

    def killed_after_two(self, counts):
        if len(commits) == 2:
            raise RuntimeError("killed")  # the third file's rows are on disk, its marker is not
        commits.append(self.key)
        real_commit(self, counts)

    monkeypatch.setattr(resume.FilePart, "commit", killed_after_two)
    with pytest.raises(RuntimeError, match="killed"):
        score(tmp_path / "killed", paths, models, parts=tmp_path / "parts")
    monkeypatch.setattr(resume.FilePart, "commit", real_commit)

    scored_docs.clear()
    stats, rows, drops = score(tmp_path / "resumed", paths, models, parts=tmp_path / "parts")
    assert stats["files_resumed"] == 2 and stats["resumable"]
    assert sorted({d.split("-")[0] for d in scored_docs}) == ["s2", "s3"]  # shards 0 and 1 were not scored again
    assert rows == expected_rows and drops == expected_drops  # nothing lost, nothing written twice
    assert {k: v for k, v in stats.items() if k not in TIMING} == \
        {k: v for k, v in expected_stats.items() if k not in TIMING}

    scored_docs.clear()
    again = score(tmp_path / "again", paths, models, parts=tmp_path / "parts", engine=LocalEngine())
    assert scored_docs == [] and again[0]["files_resumed"] == 4 and again[1:] == (expected_rows, expected_drops)


def test_a_new_shard_is_the_only_file_scored_and_a_new_config_starts_over(tmp_path, models, scored_docs):
    paths = shards(tmp_path / "shards")
    parts = tmp_path / "parts"
    score(tmp_path / "first", paths, models, parts=parts)
    new = shard(tmp_path / "shards" / "shard-new.parquet", 9, EN_REFERENCE[40:46])
    scored_docs.clear()
    stats, rows, _ = score(tmp_path / "second", [*paths, new], models, parts=parts)
    assert {d.split("-")[0] for d in scored_docs} == {"s9"} and stats["files_resumed"] == 4
    assert {r["id"].split("-")[0] for r in rows} >= {"s0", "s9"}
    # terciles are the whole partition's: the loss buckets are those of a fresh run over all five files
    assert rows == score(tmp_path / "fresh", [*paths, new], models)[1]

    config = load_scoring_config(CONFIG)
    edited = replace(config, cjk_threshold=0.5)
    changed = replace(edited, version=config_version(edited))
    scored_docs.clear()
    stats, _, _ = score(tmp_path / "third", paths, models, parts=parts, config=changed)
    assert stats["files_resumed"] == 0 and len(scored_docs) == 4 * 8
    assert [p.name for p in parts.iterdir()] == [next(parts.iterdir()).name]  # the old version's parts removed


def test_models_built_by_hand_cannot_be_named_so_nothing_is_kept(tmp_path, models, scored_docs):
    paths = shards(tmp_path / "shards", 2)
    by_hand = replace(models, files=None)
    score(tmp_path / "a", paths, by_hand, parts=tmp_path / "parts")
    scored_docs.clear()
    stats, _, _ = score(tmp_path / "b", paths, by_hand, parts=tmp_path / "parts")
    assert not stats["resumable"] and stats["files_resumed"] == 0 and len(scored_docs) == 16
