"""``ray`` gives exactly what ``local`` gives: the same real documents through ingest (a Ray task per shard), dedup (signatures on Ray Data,
band join in hash partitions as Ray tasks) and scoring (rules + language ID on Ray Data; with trained models, the
KenLM perplexity, DCLM fastText and edu regressor too, opened once per Ray worker), every column and every drop
compared. One local Ray (2 CPUs, 128 MiB object store) serves the module."""

import json
import shutil
from dataclasses import replace

import pyarrow as pa
import pytest

from curation.compute import ComputeConfig, LocalEngine, ParquetFiles, RayEngine
from curation.dedup import DedupConfig, dedup_partition
from curation.document import DOC_SCHEMA, DROP_SCHEMA
from curation.embeddings import EmbedderSpec
from curation.ingest import ingest_category
from curation.lake import Lake, PartitionWriter
from curation.lm.generation import BackendSpec, GenerationRequest, Sampling, TransformersBackend
from curation.rewrite import RewriteConfig
from curation.sample_corpus import build_sample_corpus
from curation.scoring import (
    ScoringModels,
    load_scoring_config,
    score_partition,
    scored_schema,
    train_dclm_fasttext,
    train_edu_regressor,
    train_kenlm,
)
from resources.configs import REPO_CONFIGS
from tests.curation.lm.conftest import model_cache, tiny_llama_dir, tinycoder_dir  # noqa: F401 - shared fixtures
from tests.curation.rewrite.helpers import PARAGRAPHS, run, table, written

pytest.importorskip("ray")

CATEGORIES = ["en_docs", "zh_news"]


@pytest.fixture(scope="module")
def ray_engine():
    engine = RayEngine(ComputeConfig(engine="ray", num_cpus=2, object_store_memory_mb=128, batch_size=40)).start()
    yield engine
    engine.close()


def edited(text: str, k: int) -> str:
    """A near copy: one sentence-level edit, as a scraper's second crawl of a page would show."""
    words = text.split(" ")
    if len(words) > 20:
        words[len(words) // 2] = words[len(words) // 2].upper()
        return " ".join(words) + f" (updated {k})"
    return text[: len(text) // 2] + "，" + text[len(text) // 2:] if len(text) > 40 else text + "。"


def landing_with_copies(root):
    """The sample corpus (real text), plus edited copies of its documents in shards of their own and in the
    other category, so duplicates sit in different files (Ray blocks), categories and band partitions."""
    build_sample_corpus(root, max_docs_per_category=48, categories=CATEGORIES, docs_per_shard=16)
    for category, other in zip(CATEGORIES, reversed(CATEGORIES)):
        texts = []
        for shard in sorted((root / category).glob("*.jsonl")):
            texts += [json.loads(line)["text"] for line in shard.read_text().splitlines()]
        copies = [{"id": f"{category}-copy-{k}", "text": edited(t, k)} for k, t in enumerate(texts[::5])]
        (root / category / "copies.jsonl").write_text("".join(json.dumps(c, ensure_ascii=False) + "\n"
                                                             for c in copies[: len(copies) // 2]))
        (root / other / f"from-{category}.jsonl").write_text(
            "".join(json.dumps(c, ensure_ascii=False) + "\n" for c in copies[len(copies) // 2:]))


def run_stages(home, engine, band_partitions):
    lake = Lake(home)
    stats = {}
    scoring = load_scoring_config(REPO_CONFIGS / "scoring.yaml")
    for category in CATEGORIES:
        ingest_category(lake, category, engine=engine)  # shards parsed as Ray tasks with ray
        with PartitionWriter(lake.stage_dir("deduped", category), DOC_SCHEMA) as out, \
                PartitionWriter(lake.drops_dir("deduped", category), DROP_SCHEMA) as drops:
            stats[category] = dedup_partition(ParquetFiles.of(lake.files("raw", category)), category, lake,
                                              DedupConfig(), out, drops, engine=engine,
                                              band_partitions=band_partitions)
        schema = scored_schema(lake.read_schema("deduped", category))
        with PartitionWriter(lake.stage_dir("scored", category), schema) as out, \
                PartitionWriter(lake.drops_dir("scored", category), DROP_SCHEMA) as drops:
            score_partition(ParquetFiles.of(lake.files("deduped", category)), category, scoring, ScoringModels(),
                            out, drops, engine=engine)
    return lake, stats


def tables(lake):
    return {(stage, c): lake.read(stage, c) for stage in ("raw", "deduped", "scored") for c in CATEGORIES} | {
        ("drops", stage, c): pa.concat_tables(pa.parquet.read_table(f) for f in lake.drop_files(stage, c))
        for stage in ("deduped", "scored") for c in CATEGORIES}


def test_ray_output_is_identical_to_local(tmp_path, ray_engine):
    landing_with_copies(tmp_path / "src")
    for name in ("local", "ray"):
        shutil.copytree(tmp_path / "src", tmp_path / name / "landing")
    local_lake, local_stats = run_stages(tmp_path / "local", LocalEngine(), 1)
    ray_lake, ray_stats = run_stages(tmp_path / "ray", ray_engine, 3)

    local, ray = tables(local_lake), tables(ray_lake)
    assert local.keys() == ray.keys()
    for key in local:
        assert local[key].schema == ray[key].schema, key
        assert local[key].to_pylist() == ray[key].to_pylist(), key  # ids, texts, scores, drop reasons

    # the comparison is not vacuous: copies were found, in the same shard set, across files and categories
    drops = local[("drops", "deduped", "en_docs")].to_pylist() + local[("drops", "deduped", "zh_news")].to_pylist()
    near = [d for d in drops if d["reason"] == "near_duplicate"]
    assert len(near) >= 4 and any(d["doc_id"].startswith("zh_news-copy") for d in near)
    assert sum(s["dropped_cross_category"] for s in local_stats.values()) >= 1
    assert local[("scored", "en_docs")].num_rows > 0 and local[("scored", "zh_news")].num_rows > 0
    assert ray_stats["zh_news"]["band_join"]["partitions"] == 3
    for category in CATEGORIES:
        for key in ("docs_in", "docs_out", "drops_by_reason", "candidate_pairs", "verified_pairs", "docs_signed"):
            assert local_stats[category][key] == ray_stats[category][key], (category, key)

    # and the engine path is today's in-process path: scoring's record-batch stream gives the same rows
    scoring = load_scoring_config(REPO_CONFIGS / "scoring.yaml")
    schema = scored_schema(local_lake.read_schema("deduped", "zh_news"))
    with PartitionWriter(tmp_path / "legacy" / "scored", schema) as out, \
            PartitionWriter(tmp_path / "legacy" / "drops", DROP_SCHEMA) as drops:
        score_partition(local_lake.iter_batches("deduped", "zh_news"), "zh_news", scoring, ScoringModels(), out, drops)
    legacy = pa.concat_tables(pa.parquet.read_table(f) for f in sorted((tmp_path / "legacy" / "scored").glob("*")))
    assert legacy.to_pylist() == local[("scored", "zh_news")].to_pylist()


def test_model_scores_on_ray_workers_are_the_local_ones(tmp_path, ray_engine, monkeypatch):
    """KenLM, fastText (DCLM) and the edu regressor on the real multilingual USE embedder, trained on real text
    (English docs high, stdlib source low) and scored on English docs and Chinese news: ``ray`` opens the models in
    its workers (the driver's KenLM is never asked) and every score matches the in-process path and ``local``."""
    categories = ["en_docs", "zh_news", "code"]
    build_sample_corpus(tmp_path / "landing", max_docs_per_category=40, categories=categories, docs_per_shard=16)
    lake = Lake(tmp_path)
    for category in categories:
        ingest_category(lake, category)
    texts = {c: lake.read("raw", c, ["text"]).column("text").to_pylist() for c in categories}
    models_dir = tmp_path / "models"
    models_dir.mkdir()
    embedder = EmbedderSpec(max_chars=1000)
    kenlm, _ = train_kenlm(texts["en_docs"], 3, models_dir)
    dclm, _ = train_dclm_fasttext(texts["en_docs"], texts["code"], models_dir)
    edu, _ = train_edu_regressor(texts["en_docs"] + texts["code"], [4] * len(texts["en_docs"]) + [1] * len(
        texts["code"]), embedder.open(), models_dir)
    scoring = load_scoring_config(REPO_CONFIGS / "scoring.yaml")
    models = ScoringModels.load(scoring, kenlm_path=kenlm, dclm_path=dclm, edu_path=edu, embedder=embedder)
    assert models.worker_files() is not None

    def scored(category, engine, name):
        schema = scored_schema(lake.read_schema("raw", category))
        source = ParquetFiles.of(lake.files("raw", category)) if engine else lake.iter_batches("raw", category)
        with PartitionWriter(tmp_path / name / "scored" / category, schema) as out, \
                PartitionWriter(tmp_path / name / "drops" / category, DROP_SCHEMA) as drops:
            stats = score_partition(source, category, scoring, models, out, drops, engine=engine)
        read = [pa.concat_tables(pa.parquet.read_table(f) for f in sorted((tmp_path / name / part / category).glob("*")))
                for part in ("scored", "drops")]
        return read, stats

    asked: list[str] = []
    driver_perplexity = models.kenlm.perplexity

    def counted(text):
        asked.append(text)
        return driver_perplexity(text)

    for category in ("en_docs", "zh_news"):
        (in_process, _), (local, local_stats) = scored(category, None, "plain"), scored(category, LocalEngine(), "local")
        monkeypatch.setattr(models.kenlm, "perplexity", counted)
        ray, ray_stats = scored(category, ray_engine, "ray")
        monkeypatch.undo()
        assert asked == []  # the perplexities came from the Ray workers' own KenLM
        for a, b, c in zip(in_process, local, ray):
            assert a.schema == b.schema == c.schema
            assert a.to_pylist() == b.to_pylist() == c.to_pylist(), category  # ids, columns, every score
        kept = local[0]
        assert kept.num_rows > 0 and kept.column("ppl").null_count == 0 and kept.column("edu_score").null_count == 0
        assert kept.column("dclm_score").null_count < kept.num_rows and kept.column("ensemble_bucket").null_count == 0
        for step in ("kenlm", "dclm", "edu"):
            assert ray_stats["seconds_by_step"][step] > 0 and local_stats["seconds_by_step"][step] > 0


def test_semantic_dedup_embeddings_on_ray_workers_are_the_local_ones(tmp_path, ray_engine):
    """SemDeDup with the real USE embedder given as a spec: ``ray`` embeds the chunks in its workers (each opens
    the embedder once), ``local`` in this process, on the same chunks; kept rows, drops and stats agree."""
    landing_with_copies(tmp_path / "src")
    # eps 0.35 (cosine > 0.65): the edited copies went to MinHash first; this keeps SemDeDup removing something
    config = DedupConfig(semantic=True, semantic_eps=0.35, semantic_clusters=4, semantic_batch_size=16)
    results = {}
    for name, engine in (("local", LocalEngine()), ("ray", ray_engine)):
        shutil.copytree(tmp_path / "src", tmp_path / name / "landing")
        lake = Lake(tmp_path / name)
        for category in CATEGORIES:
            ingest_category(lake, category)
            with PartitionWriter(lake.stage_dir("deduped", category), DOC_SCHEMA) as out, \
                    PartitionWriter(lake.drops_dir("deduped", category), DROP_SCHEMA) as drops:
                stats = dedup_partition(ParquetFiles.of(lake.files("raw", category)), category, lake, config, out,
                                        drops, embedder=EmbedderSpec(max_chars=1000), engine=engine)
            results[name, category] = (lake.read("deduped", category).to_pylist(),
                                       pa.concat_tables(pa.parquet.read_table(f) for f in
                                                        lake.drop_files("deduped", category)).to_pylist(),
                                       stats["semantic"], stats["drops_by_reason"])
    for category in CATEGORIES:
        assert results["local", category] == results["ray", category], category
    assert all(results["local", c][2]["docs"] > 0 for c in CATEGORIES)  # every survivor was embedded
    assert sum(results["local", c][3].get("semantic_duplicate", 0) for c in CATEGORIES) >= 1


def generation_requests() -> list[GenerationRequest]:
    """Real sentences in three sampling groups of 20 (three padded batches of 8, 8 and 4 each): greedy, seeded
    sampling, and a prefilled reply cut at a stop string."""
    texts = [" ".join(p.split()[: 6 + 3 * (i % 5)]) for i, p in enumerate((PARAGRAPHS * 8)[:20])]
    groups = [(Sampling(8), None, ""), (Sampling(6, temperature=1.0, seed=5), "Be brief.", ""),
              (Sampling(8, stop=(".",)), None, "Answer:")]
    return [GenerationRequest(f"Rephrase: {t}", s, system, prefix) for s, system, prefix in groups for t in texts]


def test_generation_on_ray_actors_is_the_local_generation(ray_engine, tiny_llama_dir):  # noqa: F811
    """Two Ray actors, each with its own copy of the model, run the padded batches the in-process backend plans:
    every text (greedy, sampled, prefilled) and the token counts are the local ones."""
    requests = generation_requests()
    local = TransformersBackend(tiny_llama_dir, device="cpu")
    expected = local.generate_requests(requests)
    with ray_engine.generation(BackendSpec("transformers", tiny_llama_dir, "tiny-llama")) as backend:
        assert backend.workers == 2 and backend.name == "transformers"
        assert backend.fingerprint == local.fingerprint  # the cache key: a local run's cache serves a Ray run
        got = backend.generate_requests(requests)
        assert backend.count_tokens(requests[0].prompt) == local.count_tokens(requests[0].prompt)
    assert got == expected
    assert backend.counters.new_tokens == local.counters.new_tokens and backend.counters.calls == 9
    assert len(set(expected)) > 20 and all(t.startswith("Answer:") for t in expected[40:])  # not vacuous


def test_rewrite_stage_on_ray_actors_gives_the_local_partition(tmp_path, ray_engine, tiny_llama_dir):  # noqa: F811
    """The rewrite stage driving the Ray backend writes what it writes with the in-process one: the same rows, the
    same drops and reasons, the same generation counts (a random model's rewrites all fail validation)."""
    config = replace(RewriteConfig(keep_originals=True), routes={"prose": {"high": ("wrap_medium", "distill")}},
                     max_attempts=2)
    config = replace(config, sampling=replace(config.sampling, max_new_tokens=4))
    docs = table(PARAGRAPHS[:3], ["high", "high", "low"])
    local = run(tmp_path / "local", docs, TransformersBackend(tiny_llama_dir, device="cpu"), config)
    with ray_engine.generation(BackendSpec("transformers", tiny_llama_dir)) as backend:
        remote = run(tmp_path / "ray", docs, backend, config)
    (local_stats, *local_files), (remote_stats, *remote_files) = local, remote
    (local_rows, local_drops), (remote_rows, remote_drops) = map(written, local_files), map(written, remote_files)
    assert local_rows == remote_rows and local_drops == remote_drops
    for key in ("generated", "synthetic_docs", "new_tokens", "drops_by_reason", "docs_out"):
        assert local_stats[key] == remote_stats[key], key
    assert local_stats["generated"] == 8 and len(local_drops) == 4 and len(local_rows) == 3
