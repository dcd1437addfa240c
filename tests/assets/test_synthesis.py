"""The synthesis assets materialized with Dagster on a temp lake: checks pass on good output, a rerun
regenerates nothing, and the CoT / discipline QA documents reach corpus/mixed under their slice names."""

import shutil
from contextlib import contextmanager

import dagster as dg
import yaml

from assets.partitions import category_partitions
from assets.synthesis import SYNTHESIS_ASSETS
from curation.lake import Lake
from curation.mixture.stage import read_manifest
from dagster_project.definitions import ASSETS
from resources.compute import ComputeResource
from resources.configs import REPO_CONFIGS, PipelineConfigs
from resources.lake import LakeResource
from resources.models import EmbedderResource, LLMResource
from tests.curation.rewrite.helpers import PARAGRAPHS, ScriptedBackend, table
from tests.curation.synthesis.helpers import answer, write_scored
from tests.curation.training.tiny_lm import tiny_model_dir  # noqa: F401 - shared fixture

CATEGORY = "notes"
CALLS = []


class ScriptedLLM(LLMResource):
    """Test double for the `llm` resource: its backend is the scripted one (generation content is decided by
    tests/curation/synthesis/helpers.answer); ``model`` still names a real tokenizer for the mixture."""

    @contextmanager
    def backend_on(self, engine):
        backend = ScriptedBackend(answer)
        CALLS.append(backend)
        yield backend


def configs(root):
    shutil.copytree(REPO_CONFIGS, root)
    curriculum = yaml.safe_load((root / "curriculum.yaml").read_text())
    first = curriculum["stages"][0]
    first["ratios"] = {"en": 8, "synthetic": 2}  # the first stage trains synthetic data too (s2 needs s1's eval)
    (root / "curriculum.yaml").write_text(yaml.safe_dump(curriculum))
    mixture = yaml.safe_load((root / "mixture.yaml").read_text())
    mixture.update(total_tokens=3000, seq_len=32, heldout_max_docs=1, heldout_min_docs=0, heldout_fraction=0.0)
    (root / "mixture.yaml").write_text(yaml.safe_dump(mixture))
    synthesis = yaml.safe_load((root / "synthesis.yaml").read_text())
    synthesis["selection"]["max_docs_per_category"] = None  # all three documents: enough to judge a drop rate
    synthesis["discipline_qa"]["selection"]["max_docs_per_category"] = None
    (root / "synthesis.yaml").write_text(yaml.safe_dump(synthesis, allow_unicode=True))
    return root


def materialize(instance, resources, selection, partition):
    result = dg.materialize(ASSETS, selection=selection, partition_key=partition, instance=instance,
                            resources=resources)
    assert result.success
    return result


def test_synthesis_assets_pass_their_checks_resume_and_reach_the_mixture(home, tmp_path, tiny_model_dir):  # noqa: F811
    docs = [PARAGRAPHS[0] + " " + PARAGRAPHS[1], PARAGRAPHS[2] + " " + PARAGRAPHS[3], PARAGRAPHS[1]]
    write_scored(Lake(home), table(docs, ["high", "high", "low"], category=CATEGORY, extra={"lang": "en"}), CATEGORY)
    resources = {"lake": LakeResource(home=str(home)), "llm": ScriptedLLM(model=str(tiny_model_dir)),
                 "embedder": EmbedderResource(), "compute": ComputeResource(),
                 "configs": PipelineConfigs(directory=str(configs(tmp_path / "configs")))}
    synthesis = dg.AssetSelection.assets(*SYNTHESIS_ASSETS)
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions(category_partitions.name, [CATEGORY])
        result = materialize(instance, resources, synthesis, CATEGORY)
        checks = {(c.asset_key.path[-1], c.check_name): c for c in result.get_asset_check_evaluations()}
        failed = {k: c.description for k, c in checks.items() if not c.passed}
        assert failed == {}, failed
        assert ("cot_chunks", "segments_cover_source") in checks and ("cot_synthesis", "instruction_not_a_copy") in checks
        cot = result.asset_materializations_for_node("synthetic__cot_synthesis")[0].metadata
        assert cot["kept"].value == 3 and "Question: " in cot["samples"].value
        generated = sum(len(b.requests) for b in CALLS)
        assert generated > 0
        CALLS.clear()
        again = materialize(instance, resources, synthesis, CATEGORY)  # the rerun regenerates nothing
        assert sum(len(b.requests) for b in CALLS) == 0
        meta = again.asset_materializations_for_node("synthetic__cot_summaries")[0].metadata
        assert "| 0 |" in meta["this_run"].value
        mixed = materialize(instance, resources, dg.AssetSelection.assets(dg.AssetKey(["mixture", "weights"]),
                                                                          dg.AssetKey(["corpus", "mixed"])),
                            "s1_bilingual")
        errors = [c.check_name for c in mixed.get_asset_check_evaluations()
                  if not c.passed and c.severity == dg.AssetCheckSeverity.ERROR]
        assert errors == []
    slices = read_manifest(home / "lake" / "mixed" / "s1_bilingual")["stats"]["categories"]
    assert slices["cot_synthesis_notes-high"]["group"] == "synthetic"
    assert slices["cot_synthesis_notes-high"]["actual_tokens"] > 0
    assert slices["discipline_qa_notes-high"]["actual_tokens"] > 0
    assert "cot_synthesis_math-high" in read_manifest(home / "lake" / "mixed" / "s1_bilingual")["stats"][
        "missing_categories"]  # seed 000's weights are listed; a slice with no data is reported, not invented
