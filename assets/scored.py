import dagster as dg

from assets.checks.thresholds import check_thresholds
from assets.metadata import counts_table, md_table
from assets.partitions import category_partitions
from assets.quality_models import DCLM_KEY, EDU_KEY, KENLM_KEY, trained_model_paths
from assets.scored_checks import SCORED_CHECK_SPECS, scored_check_results
from assets.scored_metadata import bar_chart, quantiles_table
from curation.compute import ParquetFiles
from curation.lake import stage_writers
from curation.parts import parts_root
from curation.reference import sample_documents
from curation.scoring import ScoringModels, load_scoring_config, score_partition, scored_schema
from curation.scoring.profiles import detect_profile
from resources.compute import ComputeResource
from resources.configs import REPO_CONFIGS, PipelineConfigs
from resources.lake import LakeResource
from resources.models import EmbedderResource


@dg.asset(
    key=["corpus", "scored"],
    deps=[dg.AssetKey(["corpus", "deduped"]), KENLM_KEY, DCLM_KEY, EDU_KEY],
    partitions_def=category_partitions,
    group_name="scoring",
    kinds={"parquet"},
    code_version=load_scoring_config(REPO_CONFIGS / "scoring.yaml").version,  # editing thresholds marks downstream stale
    check_specs=SCORED_CHECK_SPECS,
    description="Heuristic rules (Gopher, C4, FineWeb, code; CJK-aware), language ID, KenLM perplexity → loss0/1/2, "
    "DCLM + edu classifiers → Nemotron-CC 20 buckets → high/mid/low. Hard-rule failures dropped with the rule name.",
)
def scored_corpus(context: dg.AssetExecutionContext, lake: LakeResource, embedder: EmbedderResource,
                  configs: PipelineConfigs, compute: ComputeResource) -> dg.MaterializeResult:
    category = context.partition_key
    data = lake.lake
    config = load_scoring_config(configs.path("scoring.yaml"))
    paths = trained_model_paths(data)
    missing = sorted(name for name, path in paths.items() if path is None)
    if missing:
        raise dg.Failure(
            description=f"quality models not trained yet: {', '.join(missing)}. Materialize the quality_models group "
            "(models/kenlm, models/dclm_classifier, models/edu_regressor) after corpus/deduped; `make demo` does it."
        )
    models = ScoringModels.load(config, kenlm_path=paths["kenlm"], dclm_path=paths["dclm"], edu_path=paths["edu"],
                                embedder=embedder.spec(cache_dir=data.state_dir("embeddings")))
    sample = sample_documents(data, "deduped", [category], config.profile.sample_docs, salt="profile")
    profile = detect_profile([t for _, _, t in sample], models.langid, config.profile)
    context.log.info(profile.describe())
    schema = scored_schema(data.read_schema("deduped", category))
    with stage_writers(data, "scored", category, schema) as (out, drops_out), compute.open() as engine:
        stats = score_partition(ParquetFiles.of(data.files("deduped", category)), category, config, models, out,
                                drops_out, profile=profile, engine=engine, parts=parts_root(data, "scored", category))
    lake.catalog.record_stage_stats("scored", category, stats["docs_in"], stats["docs_out"], stats, context.run_id)
    quality = stats["quality_bucket_fraction"] or {}
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": stats["docs_out"],
            "docs_in": stats["docs_in"],
            "drop_rate": 1 - stats["docs_out"] / stats["docs_in"] if stats["docs_in"] else 0.0,
            "drops_by_reason": counts_table(stats["drops_by_reason"], total=stats["docs_in"]),
            "soft_flags_by_rule": counts_table(stats["soft_flags_by_rule"], key="rule", total=stats["docs_in"]),
            "quality_buckets": md_table(["bucket", "share"], sorted(quality.items())),
            "loss_buckets": md_table(["bucket", "share"], sorted((stats["loss_bucket_fraction"] or {}).items())),
            "share_high": float(quality.get("high", 0.0)),
            "share_mid": float(quality.get("mid", 0.0)),
            "share_low": float(quality.get("low", 0.0)),
            "profile": f"{profile.describe()} (rule sets: profiles.{profile.rules_key} in configs/scoring.yaml)",
            "expected_languages": ", ".join(stats["expected_languages"]) or "any",
            "ensemble_bucket_histogram": bar_chart(stats["ensemble_bucket_histogram"], label="bucket"),
            "score_quantiles": quantiles_table({"ppl": stats["ppl_quantiles"], "dclm": stats["dclm_score_quantiles"],
                                                "edu": stats["edu_score_quantiles"]}),
            "languages": counts_table(stats["languages"], key="language", total=stats["docs_out"]),
            "config_version": config.version,
            "mb_per_s": float(stats["mb_per_s"] or 0.0),
            "seconds": stats["seconds"],
            # shard files whose pass 1 a killed or earlier run had finished (curation/scoring/resume.py)
            "files_resumed": stats["files_resumed"],
        },
        check_results=scored_check_results(data, category, stats, check_thresholds(configs)),
    )
