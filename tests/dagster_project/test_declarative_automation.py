"""Automation conditions, backfill policies and pools are in the Definitions, and the conditions do what
they say when Dagster evaluates them: a category's dedup follows its raw partition only once raw's
blocking checks passed."""

import dagster as dg
import yaml
from dagster._core.definitions.asset_checks.asset_check_evaluation import AssetCheckEvaluationTargetMaterializationData

from assets.partitions import category_partitions
from dagster_project import cli
from dagster_project.automation import FOLLOW_UPSTREAM
from dagster_project.definitions import ASSETS, defs

RAW, DEDUPED = dg.AssetKey(["corpus", "raw"]), dg.AssetKey(["corpus", "deduped"])
SELECTION = dg.AssetSelection.assets(RAW, DEDUPED)


def by_key():
    return {k: a for a in ASSETS for k in a.keys}


def test_conditions_policies_and_pools_are_on_the_asset_specs():
    with dg.instance_for_test():
        graph = defs.resolve_asset_graph()
        specs = {a.key: a for a in graph.assets_defs}
    assert specs[RAW].automation_conditions_by_key.get(RAW) is None  # the sensor starts ingest
    for key in (DEDUPED, dg.AssetKey(["corpus", "scored"]), dg.AssetKey(["model", "checkpoint"])):
        assert specs[key].automation_conditions_by_key[key].get_label() == "eager, upstream blocking checks passed"
    mixed = dg.AssetKey(["corpus", "mixed"])
    assert specs[mixed].automation_conditions_by_key[mixed].get_label() == "on cron 0 5 * * *"
    assert specs[DEDUPED].backfill_policy == dg.BackfillPolicy.multi_run(1)
    assert specs[dg.AssetKey(["models", "kenlm"])].backfill_policy == dg.BackfillPolicy.single_run()
    assert specs[dg.AssetKey(["model", "checkpoint"])].op.pool == "gpu"
    assert specs[dg.AssetKey(["corpus", "rewritten"])].op.pool == "gpu"
    assert specs[DEDUPED].op.pool is None


def test_pool_limit_is_in_the_generated_dagster_yaml():
    config = yaml.safe_load(cli.dagster_yaml(cpus=2))
    assert config["concurrency"]["pools"] == {"default_limit": 1}


def report(instance, partition: str, checks_pass: bool) -> None:
    """raw materialized for ``partition`` with its blocking checks, as one run of raw records them."""
    instance.report_runless_asset_event(dg.AssetMaterialization(asset_key=RAW, partition=partition))
    record = instance.fetch_materializations(RAW, limit=1).records[0]
    target = AssetCheckEvaluationTargetMaterializationData(storage_id=record.storage_id, run_id=record.run_id,
                                                               timestamp=record.timestamp)
    for spec in by_key()[RAW].check_specs:
        if spec.blocking:
            instance.report_runless_asset_event(dg.AssetCheckEvaluation(
                asset_key=RAW, check_name=spec.name, passed=checks_pass, severity=dg.AssetCheckSeverity.ERROR,
                target_materialization_data=target))


def test_dedup_follows_raw_once_its_blocking_checks_passed():
    assert any(spec.blocking for spec in by_key()[RAW].check_specs)
    deduped = by_key()[DEDUPED]
    assert deduped.automation_conditions_by_key[DEDUPED].get_label() == FOLLOW_UPSTREAM.get_label()
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions(category_partitions.name, ["good", "bad"])
        tick = dg.evaluate_automation_conditions(defs=defs, asset_selection=SELECTION, instance=instance)
        assert tick.total_requested == 0  # nothing ingested yet: dedup waits for raw

        report(instance, "good", checks_pass=True)
        tick = dg.evaluate_automation_conditions(defs=defs, asset_selection=SELECTION, instance=instance,
                                                 cursor=tick.cursor)
        assert tick.get_requested_partitions(DEDUPED) == {"good"} and tick.get_requested_partitions(RAW) == set()

        tick = dg.evaluate_automation_conditions(defs=defs, asset_selection=SELECTION, instance=instance,
                                                 cursor=tick.cursor)
        assert tick.total_requested == 0  # handled: not requested again until raw updates again

        report(instance, "bad", checks_pass=False)  # a blocking check failed: dedup does not follow
        tick = dg.evaluate_automation_conditions(defs=defs, asset_selection=SELECTION, instance=instance,
                                                 cursor=tick.cursor)
        assert tick.total_requested == 0

        report(instance, "bad", checks_pass=True)  # fixed and re-ingested: now it follows
        tick = dg.evaluate_automation_conditions(defs=defs, asset_selection=SELECTION, instance=instance,
                                                 cursor=tick.cursor)
        assert tick.get_requested_partitions(DEDUPED) == {"bad"}
