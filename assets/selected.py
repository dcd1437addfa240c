import dagster as dg

from assets.checks.thresholds import check_thresholds
from assets.metadata import md_table
from assets.partitions import category_partitions
from assets.selected_checks import SELECTED_CHECK_SPECS, SELECTED_KEY, selected_check_results
from curation.lake import stage_writers
from curation.selection import STAGE, load_selection_config, load_taxonomy, select_partition, selected_schema
from resources.configs import PipelineConfigs, config_version
from resources.lake import LakeResource
from resources.models import EmbedderResource


def _bar(value: float, top: float, width: int = 24) -> str:
    return "█" * round(width * value / top) if top > 0 else ""


@dg.asset(
    key=SELECTED_KEY,
    deps=[dg.AssetKey(["corpus", "rewritten"])],
    partitions_def=category_partitions,
    group_name="selection",
    kinds={"parquet"},
    # editing the selection knobs or the taxonomy marks the selection (and the mixture) stale
    code_version=config_version("selection.yaml", "topics.yaml"),
    check_specs=SELECTED_CHECK_SPECS,
    description="Topic labels (seed 002's taxonomy, embedding similarity), a quality weight per document from its "
    "scores (seed 000: sample mid/low by score), diversity selection to a budget (seed 004: k-means, per-cluster "
    "diversity x quality weights, near-identical clusters merged; KNN variant) and domain recall from seed "
    "documents. Carries every rewritten column plus topic, sample_weight, selection_cluster, domain; every "
    "document not selected is recorded with its weights (`corpusforge why <id>`).",
)
def selected_corpus(context: dg.AssetExecutionContext, lake: LakeResource, embedder: EmbedderResource,
                    configs: PipelineConfigs) -> dg.MaterializeResult:
    category = context.partition_key
    data = lake.lake
    config = load_selection_config(configs.path("selection.yaml"))
    taxonomy = load_taxonomy(configs.path(config.topics.taxonomy))
    embed = embedder.embedder(cache_dir=data.state_dir("embeddings") if config.embedding.cache else None)
    schema = selected_schema(data.read_schema("rewritten", category))
    with stage_writers(data, STAGE, category, schema) as (out, drops_out):
        stats = select_partition(lambda: data.iter_batches("rewritten", category), category, embed, config,
                                 taxonomy, out, drops_out, data.work_dir(STAGE, category))
    lake.catalog.record_stage_stats(STAGE, category, stats["docs_in"], stats["docs_out"], stats, context.run_id)
    return dg.MaterializeResult(metadata=selection_metadata(stats), check_results=selected_check_results(
        data, category, stats, taxonomy, check_thresholds(configs)))


def selection_metadata(stats: dict) -> dict:
    b = stats["budget"]
    topics = stats["by_topic"]
    top = max((t["selected_tokens"] for t in topics.values()), default=0)
    total_sel = max(stats["tokens_selected"], 1)
    topic_rows = [(name, t["docs"], t["selected_docs"], t["tokens"], t["selected_tokens"],
                   t["selected_tokens"] / total_sel, _bar(t["selected_tokens"], top))
                  for name, t in sorted(topics.items(), key=lambda kv: -kv[1]["selected_tokens"])]
    bucket_rows = [(name, t["docs"], t["selected_docs"], t["tokens"], t["selected_tokens"],
                    t["selected_tokens"] / t["tokens"] if t["tokens"] else 0.0)
                   for name, t in sorted(stats["by_bucket"].items())]
    clusters = sorted(stats["clusters"], key=lambda c: -c["docs"])
    cluster_rows = [(c["cluster"], c["top_topic"], c["docs"], c["selected_docs"],
                     "-" if c["mean_similarity"] is None else round(c["mean_similarity"], 3),
                     round(c["diversity_weight"], 3), round(c["share_weight"], 3), round(c["available_share"], 3),
                     round(c["selected_units"] / b["selected"], 3) if b["selected"] else 0.0)
                    for c in clusters[:40]]
    hist = stats["quality_weight_histogram"]
    edges, counts = hist["edges"], hist["counts"]
    peak = max(counts) if counts else 0
    hist_rows = [(f"{edges[i]:.2f}-{edges[i + 1]:.2f}", counts[i], _bar(counts[i], peak)) for i in range(len(counts))]
    k = stats["k"] or {}
    mean_q = stats["mean_quality_weight"]
    return {
        "dagster/row_count": stats["docs_out"],
        "docs_in": stats["docs_in"],
        "tokens_available": stats["tokens_available"],
        "tokens_selected": stats["tokens_selected"],
        "budget": md_table(["unit", "budget", "available", "selected", "short by", "from"],
                           [(b["unit"], round(b["budget"]), round(b["available"]), round(b["selected"]),
                             round(b["shortfall"]), b["from"])]),
        "topic_shares": md_table(["topic", "docs", "selected docs", "tokens", "selected tokens", "share of selected",
                                  ""], topic_rows),
        "by_quality_bucket": md_table(["bucket", "docs", "selected docs", "tokens", "selected tokens",
                                       "tokens kept"], bucket_rows),
        "clusters": md_table(["cluster", "main topic", "docs", "selected", "mean cosine", "diversity weight",
                              "share weight", "available share", "selected share"], cluster_rows),
        "k": f"{k.get('rule', '-')}; {k.get('merged', 0)} merged by centroid cosine → {k.get('final', 0)} clusters "
             f"(method {stats['method']})",
        "quality_weight_distribution": md_table(["quality weight", "docs", ""], hist_rows),
        "mean_quality_weight_available": float(mean_q["available"] or 0.0),
        "mean_quality_weight_selected": float(mean_q["selected"] or 0.0),
        "domains": md_table(["domain", "seed docs", "tagged", "tagged and selected"],
                            [(d, v["seed_docs"], v["tagged"], stats["domain_selected"].get(d, 0))
                             for d, v in stats["domains"].items()]),
        "embedding_cache": "off" if stats["embedding_cache"] is None else
        f"{stats['embedding_cache']['hits']} hits, {stats['embedding_cache']['misses']} embedded",
        "config_version": stats["config_version"],
        "docs_per_s": float(stats["docs_per_s"]),
        "seconds": float(stats["seconds"]),
    }
