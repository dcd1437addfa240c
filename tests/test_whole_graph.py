"""The whole asset graph, raw → eval table, on a few dozen real documents and a tiny model."""

import shutil
from contextlib import contextmanager

import dagster as dg
import pytest
import yaml

from assets.partitions import category_partitions, stage_partitions
from curation.catalog import Catalog
from curation.lake import Lake
from curation.lm.scratch import build_tiny_llama
from curation.sample_corpus import build_sample_corpus
from dagster_project.definitions import ASSETS
from resources.compute import ComputeResource
from resources.configs import REPO_CONFIGS, PipelineConfigs
from resources.lake import LakeResource
from resources.models import EmbedderResource, LLMResource
from tests.curation.rewrite.helpers import ScriptedBackend, by_style
from tests.curation.training.tiny_lm import train_tokenizer

CATEGORIES = ["code", "en_docs", "math", "zh_news"]


def small_configs(root):
    """The repository's configs with CPU-test budgets."""
    shutil.copytree(REPO_CONFIGS, root)

    def edit(name, **changes):
        data = yaml.safe_load((root / name).read_text())
        for dotted, value in changes.items():
            *parents, leaf = dotted.split(".")
            node = data
            for p in parents:
                node = node[p]
            node[leaf] = value
        (root / name).write_text(yaml.safe_dump(data))

    edit("quality_models.yaml", **{"reference.docs_per_category": 12, "negatives.docs_per_category": 10,
                                   "edu_regressor.max_train_docs": 40})
    # a few documents a category through the rewrite stage, written by the scripted backend below
    edit("rewrite.yaml", **{"selection.max_docs_per_category": 3})
    # synthesis (tests/assets/test_synthesis.py runs it end to end): the assets run and warn on nothing
    edit("synthesis.yaml", **{"selection.max_docs_per_category": 0, "discipline_qa.selection.max_docs_per_category": 0})
    edit("mixture.yaml", total_tokens=4000, seq_len=32, heldout_max_docs=2)
    edit("training.yaml", max_steps=2, micro_batch_size=1, seq_len=32)
    edit("evaluation.yaml", **{"downstream.limit": 2, "downstream.limits": {"humaneval_sandboxed": 1},
                               "downstream.batch_size": 2, "downstream.device": "cpu"})
    curriculum = yaml.safe_load((root / "curriculum.yaml").read_text())
    for stage in curriculum["stages"]:
        stage["token_budget"] = 4000
        stage["lr"]["max_steps"] = 1
        stage["lr"]["warmup_steps"] = 0
    (root / "curriculum.yaml").write_text(yaml.safe_dump(curriculum))
    return root


class ScriptedLLM(LLMResource):
    """Training and evaluation use the tiny model; rewriting gets faithful scripted outputs (a test
    double: a random model writes garbage that validation rightly drops), so synthetic documents
    travel the whole graph. The rewrite stage with the real SmolLM2 is tests/curation/rewrite's slow test."""

    @contextmanager
    def backend_on(self, engine):
        yield ScriptedBackend(by_style)


@pytest.fixture
def long_context_tiny_model(tmp_path):
    """A random ~0.3M-parameter Llama whose context holds the rewrite prompts (their BPE tokenizer is small)."""
    return build_tiny_llama(tmp_path / "model", train_tokenizer(tmp_path / "tokenizer"), hidden_size=32, num_layers=2,
                            num_heads=2, intermediate_size=64, max_position_embeddings=4096)


# ~2 minutes on 2 idle cores; the bound is for a loaded machine, not a speed target
@pytest.mark.timeout(1800)
def test_whole_graph_to_eval_table(home, tmp_path, long_context_tiny_model):
    build_sample_corpus(home / "landing", max_docs_per_category=12, categories=CATEGORIES)
    resources = {
        "lake": LakeResource(home=str(home)),
        "embedder": EmbedderResource(),
        "llm": ScriptedLLM(model=str(long_context_tiny_model)),
        "configs": PipelineConfigs(directory=str(small_configs(tmp_path / "configs"))),
        "compute": ComputeResource(),
    }
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions(category_partitions.name, CATEGORIES)
        run_whole_graph(instance, resources)
    check_outputs(home)


def run_whole_graph(instance, resources):

    def run(groups, partition=None):
        result = dg.materialize(ASSETS, selection=dg.AssetSelection.groups(*groups), partition_key=partition,
                                instance=instance, resources=resources)
        assert result.success
        failed = [c.check_name for c in result.get_asset_check_evaluations()
                  if not c.passed and c.severity == dg.AssetCheckSeverity.ERROR]
        assert failed == [], f"{groups} {partition}: checks failed {failed}"
        return result

    for category in CATEGORIES:
        run(["ingest", "dedup"], category)
    run(["quality_models"])
    for category in CATEGORIES:
        first = run(["scoring", "rewriting", "selection", "synthesis"], category)
    # scoring again: every shard file's pass 1 is a committed part, so none is scored twice; same rows
    before = resources["lake"].lake.read("scored", category).to_pylist()
    again = run(["scoring"], category).asset_materializations_for_node("corpus__scored")[0].metadata
    assert again["files_resumed"].value == len(resources["lake"].lake.files("deduped", category)) >= 1
    assert first.asset_materializations_for_node("corpus__scored")[0].metadata["files_resumed"].value == 0
    assert resources["lake"].lake.read("scored", category).to_pylist() == before
    for stage in stage_partitions.get_partition_keys():  # the curriculum, stage after stage
        final = run(["mixture", "training", "evaluation"], stage)
        mat = final.asset_materializations_for_node("model__eval_table")[0]
        assert "checkpoint ppl" in mat.metadata["eval_table"].value
    weights = final.asset_materializations_for_node("mixture__weights")[0]
    assert "Δp" in weights.metadata["reweighting"].value


def check_outputs(home):
    lake = Lake(home)
    scored = lake.read("scored", "en_docs")
    assert set(scored.column("quality_bucket").to_pylist()) <= {"high", "mid", "low"}
    assert (home / "lake/mixed/s2_synthetic/blend.txt").read_text().strip()
    rows = Catalog(lake.catalog_path).query("SELECT model, metric, category, value FROM eval_table "
                                              "WHERE stage IS NOT NULL AND metric IN ('loss', 'perplexity')")
    stages = Catalog(lake.catalog_path).query("SELECT DISTINCT stage, model FROM eval_table ORDER BY 1, 2")
    assert ("s2_synthetic", "start") in stages and ("s1_bilingual", "checkpoint") in stages
    heldout_categories = {c for _, _, c, _ in rows} - {"__overall__"}
    assert heldout_categories and heldout_categories <= set(CATEGORIES)
    # downstream tasks for the base model and every stage's checkpoint, with the items they rest on
    tasks = Catalog(lake.catalog_path).query(
        "SELECT stage, model, category, metric, n_items FROM eval_table WHERE metric IN ('acc', 'exact_match', 'pass_at_1')")
    for stage in ("s1_bilingual", "s2_synthetic"):
        scored = {(m, c) for s, m, c, _, _ in tasks if s == stage}
        assert {("base", "humaneval_sandboxed"), ("checkpoint", "humaneval_sandboxed"),
                ("checkpoint", "bb_strategyqa"), ("checkpoint", "bb_arithmetic_2d_add")} <= scored, scored
    assert {n for *_, n in tasks} == {1, 2}
    for category in heldout_categories:
        for model in ("base", "checkpoint"):
            assert any(r[0] == model and r[1] == "perplexity" and r[2] == category and r[3] > 1 for r in rows)
