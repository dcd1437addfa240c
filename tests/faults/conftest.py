"""Fault injection helpers: real-looking shards damaged the way exports, copies and users damage them."""

import json
from pathlib import Path

import dagster as dg

from assets.partitions import category_partitions
from assets.raw import raw_corpus
from resources.compute import ComputeResource
from resources.configs import REPO, PipelineConfigs
from resources.lake import LakeResource


def doc_lines(n: int, prefix: str = "d") -> list[bytes]:
    """``n`` distinct JSON lines with an id and a sentence of real-looking prose."""
    return [json.dumps({"id": f"{prefix}{i}", "text": f"Document {i}: the json module exposes an API familiar to "
                        f"users of the marshal and pickle modules (copy {i})."}).encode() + b"\n" for i in range(n)]


def materialize_raw(home: Path, category: str, run_config: dict | None = None, configs: PipelineConfigs = REPO):
    """The raw asset on one partition, as the UI would run it; never raises on a failed check."""
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions(category_partitions.name, [category])
        return dg.materialize([raw_corpus], instance=instance, partition_key=category, raise_on_error=False,
                              resources={"lake": LakeResource(home=str(home)), "configs": configs,
                                         "compute": ComputeResource()},
                              run_config=run_config or None)


def raw_outcome(result) -> tuple[dict, dict]:
    """(materialization metadata as plain values, {check name: evaluation})."""
    mats = result.asset_materializations_for_node("corpus__raw")
    meta = {k: v.value for k, v in mats[0].metadata.items()} if mats else {}
    return meta, {c.check_name: c for c in result.get_asset_check_evaluations()}
