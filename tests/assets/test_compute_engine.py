"""The assets on ``compute: ray`` (a local Ray the resource starts and stops) give what ``local`` gives."""

import shutil

import dagster as dg
import pytest

from assets.deduped import deduped_corpus
from assets.partitions import category_partitions
from assets.raw import raw_corpus
from curation.lake import Lake
from curation.sample_corpus import build_sample_corpus
from resources.compute import ComputeResource
from resources.configs import PipelineConfigs
from resources.lake import LakeResource
from resources.models import EmbedderResource

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
