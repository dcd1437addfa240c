"""Declarative automation, backfill policies and run pools for the asset graph (Dagster's recommended way).

- ``corpus/raw`` has no condition: ``new_shard_sensor`` stays the entry point for new shards.
- Per-category stages after it (dedup, scoring, rewriting, and the models' downstream) follow **eagerly**
  once their upstream partition updated **and its blocking checks passed** (``all_deps_blocking_checks_passed``):
  bad data stops at the check that caught it, before it costs GPU time.
- The mixture runs **on a cron** (daily at 05:00, after the 02:00 category backfill) once at least one upstream
  category updated since the tick; training and evaluation follow it eagerly.
- Backfills: one run per partition (``multi_run(1)``), because every stage reads ``context.partition_key``, holds
  that partition's lock and reports that partition's checks; several runs of different categories proceed side
  by side within the run limits of ``dagster.yaml``. Unpartitioned assets: ``single_run``.
- GPU work (generation, training, perplexity eval, ablation models) is in pool ``gpu`` (set on the asset
  decorators); ``dagster.yaml`` (dagster_project/cli.py) limits every pool to one step at a time.

Switch on ``default_automation_condition_sensor`` in the UI (Automation) to let the conditions launch runs.
"""

import dagster as dg

MIXTURE_CRON = "0 5 * * *"

FOLLOW_UPSTREAM = (dg.AutomationCondition.eager() & dg.AutomationCondition.all_deps_blocking_checks_passed()
                   ).with_label("eager, upstream blocking checks passed")
ON_MIXTURE_CRON = dg.AutomationCondition.on_cron(MIXTURE_CRON).with_label(f"on cron {MIXTURE_CRON}")

# keys not listed here (raw, the ablation, assets other branches add) keep no condition
CONDITIONS = {
    ("corpus", "deduped"): FOLLOW_UPSTREAM,
    ("corpus", "scored"): FOLLOW_UPSTREAM,
    ("corpus", "rewritten"): FOLLOW_UPSTREAM,
    ("mixture", "weights"): ON_MIXTURE_CRON,
    ("corpus", "mixed"): ON_MIXTURE_CRON,
    ("model", "checkpoint"): FOLLOW_UPSTREAM,
    ("model", "eval_table"): FOLLOW_UPSTREAM,
}
PARTITIONED_BACKFILL = dg.BackfillPolicy.multi_run(max_partitions_per_run=1)
UNPARTITIONED_BACKFILL = dg.BackfillPolicy.single_run()


def automated(assets: list[dg.AssetsDefinition]) -> list[dg.AssetsDefinition]:
    """The assets with their automation condition (``CONDITIONS``) and backfill policy attached."""
    out = []
    for asset in assets:
        key = tuple(asset.key.path)
        policy = PARTITIONED_BACKFILL if asset.partitions_def is not None else UNPARTITIONED_BACKFILL
        condition = CONDITIONS.get(key)
        out.append(asset.with_attributes(backfill_policy=policy,
                                         automation_condition={asset.key: condition} if condition else None))
    return out
