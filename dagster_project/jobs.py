import dagster as dg

from assets.partitions import category_partitions, stage_partitions

# Per-category stages run one run per category partition (sensor, schedule, backfills).
category_pipeline_job = dg.define_asset_job(
    "category_pipeline",
    selection=dg.AssetSelection.groups("ingest", "dedup", "scoring", "rewriting", "selection", "synthesis"),
    partitions_def=category_partitions,
    description="raw → deduped → scored → rewritten → selected, + CoT / discipline QA synthesis, for one category "
    "partition (needs the quality models).",
)

# The same stages split around the quality models, which are trained from every deduped
# category: a first build runs ingest_and_dedup for all categories, quality_models, then
# score_and_rewrite (this is what `make demo` does).
ingest_and_dedup_job = dg.define_asset_job(
    "ingest_and_dedup",
    selection=dg.AssetSelection.groups("ingest", "dedup"),
    partitions_def=category_partitions,
)
quality_models_job = dg.define_asset_job(
    "quality_models", selection=dg.AssetSelection.groups("quality_models"),
    description="Train KenLM, the DCLM fastText classifier and the edu regressor from the deduped lake.",
)
score_and_rewrite_job = dg.define_asset_job(
    "score_and_rewrite",
    selection=dg.AssetSelection.groups("scoring", "rewriting", "selection", "synthesis"),
    partitions_def=category_partitions,
)

mixture_job = dg.define_asset_job(
    "mixture_to_eval",
    selection=dg.AssetSelection.groups("mixture", "training", "evaluation"),
    partitions_def=stage_partitions,
    description="One curriculum stage: weights from the previous stage's eval, mixture, training, eval table.",
)

ablation_job = dg.define_asset_job(
    "data_ablation", selection=dg.AssetSelection.assets(dg.AssetKey(["model", "ablation"])),
    description="Curated vs raw at equal tokens: tiny models from scratch, independent eval, verdict with noise.",
)

ALL_JOBS = [category_pipeline_job, ingest_and_dedup_job, quality_models_job, score_and_rewrite_job, mixture_job, ablation_job]
