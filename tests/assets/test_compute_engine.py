"""The assets on ``compute: ray`` (a local Ray the resource starts and stops) give what ``local`` gives."""

import shutil

import dagster as dg
import pyarrow.parquet as pq
import pytest

from assets.deduped import deduped_corpus
from assets.partitions import category_partitions
from assets.raw import raw_corpus
from assets.rewritten import rewritten_corpus
from curation.lake import Lake
from curation.lm.scratch import build_tiny_llama
from curation.sample_corpus import build_sample_corpus
from resources.compute import ComputeResource
from resources.configs import PipelineConfigs
from resources.lake import LakeResource
from resources.models import EmbedderResource, LLMResource
from tests.curation.rewrite.helpers import PARAGRAPHS, table
from tests.curation.synthesis.helpers import write_scored
from tests.curation.training.tiny_lm import train_tokenizer

pytest.importorskip("ray")


def materialize(home, engine: str):
    resources = {"lake": LakeResource(home=str(home)), "embedder": EmbedderResource(), "configs": PipelineConfigs(),
                 "compute": ComputeResource(engine=engine, band_partitions=3)}
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions(category_partitions.name, ["en_docs"])
        result = dg.materialize([raw_corpus, deduped_corpus], instance=instance, partition_key="en_docs",
                                resources=resources)
        assert result.success
        return result.asset_materializations_for_node("corpus__deduped")[0].metadata


@pytest.mark.slow  # starts a local Ray inside the step (~20 s on 2 cores)
def test_dedup_asset_on_ray_matches_local(tmp_path, monkeypatch):
    monkeypatch.delenv("CORPUSFORGE_COMPUTE", raising=False)
    build_sample_corpus(tmp_path / "src", max_docs_per_category=40, categories=["en_docs"], docs_per_shard=10)
    for name in ("local", "ray"):
        shutil.copytree(tmp_path / "src", tmp_path / name / "landing")
    local, ray = materialize(tmp_path / "local", "local"), materialize(tmp_path / "ray", "ray")
    assert "engine: ray" in ray["compute"].value and "engine: local" in local["compute"].value
    assert Lake(tmp_path / "local").read("deduped", "en_docs").to_pylist() == \
        Lake(tmp_path / "ray").read("deduped", "en_docs").to_pylist()
    assert local["docs_hashed_this_run"].value == ray["docs_hashed_this_run"].value == 40


@pytest.mark.slow  # a local Ray in the step, two actors loading the model (~40 s on 2 cores)
def test_rewrite_asset_generates_on_ray_actors_as_it_does_locally(tmp_path, monkeypatch):
    """The real ``llm`` resource on ``compute: ray``: the rewrite step's generations run on Ray actors and the
    partition, drops and counts are the in-process ones (a random model's rewrites all fail validation)."""
    monkeypatch.delenv("CORPUSFORGE_COMPUTE", raising=False)
    model = build_tiny_llama(tmp_path / "model", train_tokenizer(tmp_path / "tokenizer"), hidden_size=32,
                             num_layers=2, num_heads=2, intermediate_size=64, max_position_embeddings=4096)
    docs = table(PARAGRAPHS[:3], ["high", "high", "low"], category="field_notes", extra={"lang": "en"})
    seen = {}
    for engine in ("local", "ray"):
        home = tmp_path / engine
        write_scored(Lake(home), docs, "field_notes")
        resources = {"lake": LakeResource(home=str(home)), "configs": PipelineConfigs(),
                     "llm": LLMResource(model=str(model), backend="transformers"),
                     "compute": ComputeResource(engine=engine)}
        with dg.instance_for_test() as instance:
            instance.add_dynamic_partitions(category_partitions.name, ["field_notes"])
            result = dg.materialize([rewritten_corpus], instance=instance, partition_key="field_notes",
                                    resources=resources, raise_on_error=False)
        meta = result.asset_materializations_for_node("corpus__rewritten")[0].metadata
        lake = Lake(home)
        drops = [pq.read_table(f).to_pylist() for f in lake.drop_files("rewritten", "field_notes")]
        seen[engine] = (lake.read("rewritten", "field_notes").to_pylist(), drops, meta["generated"].value,
                        meta["validation_failures"].value)
        assert f"engine: {engine}" in meta["compute"].value
    assert seen["local"] == seen["ray"]
    assert seen["local"][2] > 0 and len(seen["local"][0]) == 3  # generations ran; the originals are kept
