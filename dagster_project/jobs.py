import dagster as dg

from dagster_project.partitions import category_partitions

# Per-category stages: one run per category partition (sensor, schedule, backfills).
CATEGORY_GROUPS = ("ingest", "dedup", "scoring", "rewriting")
# Whole-mixture stages: one run over every category at once.
MIXTURE_GROUPS = ("classifiers", "mixture", "training", "evaluation")

category_pipeline_job = dg.define_asset_job(
    "category_pipeline",
    selection=dg.AssetSelection.groups(*CATEGORY_GROUPS),
    partitions_def=category_partitions,
    description="raw → deduped → scored → rewritten for one category partition.",
)

mixture_job = dg.define_asset_job(
    "mixture_to_eval",
    selection=dg.AssetSelection.groups(*MIXTURE_GROUPS),
    description="classifiers, mixture, continued pretraining and the eval table over all categories.",
)
