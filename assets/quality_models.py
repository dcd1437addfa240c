"""The quality models the scoring stage uses, trained by the graph itself from the deduped lake."""

import math
import shutil
from pathlib import Path

import dagster as dg
import yaml

from assets.metadata import md_table
from curation.lake import Lake
from curation.reference import load_reference, sample_documents, shuffled_words, with_paragraphs
from resources.configs import PipelineConfigs
from resources.lake import LakeResource
from resources.models import EmbedderResource

DEDUPED = dg.AssetKey(["corpus", "deduped"])
KENLM_KEY = dg.AssetKey(["models", "kenlm"])
DCLM_KEY = dg.AssetKey(["models", "dclm_classifier"])
EDU_KEY = dg.AssetKey(["models", "edu_regressor"])


def quality_models_config(configs: PipelineConfigs) -> dict:
    return yaml.safe_load(configs.path("quality_models.yaml").read_text())


def model_dir(lake: Lake, name: str) -> Path:
    return lake.home / "models" / "quality" / name


def fresh_model_dir(lake: Lake, name: str) -> Path:
    """An emptied model directory, so a retrained model never sits beside a stale one."""
    path = model_dir(lake, name)
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    return path


def _reference(lake: Lake, config: dict) -> tuple[list[tuple[str, str, str]], dict]:
    """(id, source, text) of the reference set (packaged bilingual text, or the user's shards) and a
    summary: it never depends on which categories the lake holds."""
    return load_reference(config["reference"], lake.home)


def _negatives(lake: Lake, config: dict, reference: list[tuple[str, str, str]]) -> tuple[list[str], str]:
    """The pool (every deduped category, reference ids excluded) and what it is; with no category yet,
    the reference's documents with their words shuffled (text with the vocabulary but not the shape)."""
    n = config["negatives"]["docs_per_category"]
    pool = sample_documents(lake, "deduped", lake.stage_categories("deduped"), n, salt="negatives",
                            exclude_ids={d for d, _, _ in reference})
    if pool:
        return [t for _, _, t in pool], f"raw pool: {len(pool)} docs from {len({c for _, c, _ in pool})} categories"
    return shuffled_words([t for _, _, t in reference]), "shuffled reference words (no deduped category yet)"


def _reference_metadata(summary: dict) -> dict:
    sources = summary.get("sources") or {}
    return {"reference": summary["kind"], "reference_docs": summary["docs"],
            "reference_sources": md_table(["source", "docs"], sorted(sources.items())) if sources
            else dg.MetadataValue.md("\n".join(summary.get("shards", [])))}


def _metrics_metadata(metrics: dict) -> dict:
    return {k: v for k, v in metrics.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}


@dg.asset(key=KENLM_KEY, deps=[DEDUPED], group_name="quality_models", kinds={"kenlm"},
          description="KenLM n-gram model (Kneser-Ney, kaldingram) of the reference set; perplexity → loss0/1/2.")
def kenlm_model(context: dg.AssetExecutionContext, lake: LakeResource,
                configs: PipelineConfigs) -> dg.MaterializeResult:
    from curation.scoring import train_kenlm

    config = quality_models_config(configs)
    reference, summary = _reference(lake.lake, config)
    path, metrics = train_kenlm((t for _, _, t in reference), config["kenlm"]["order"],
                                fresh_model_dir(lake.lake, "kenlm"))
    context.log.info(f"KenLM trained on {len(reference)} reference docs: {metrics}")
    return dg.MaterializeResult(metadata={"path": str(path), **_reference_metadata(summary),
                                          **_metrics_metadata(metrics)})


@dg.asset(key=DCLM_KEY, deps=[DEDUPED], group_name="quality_models", kinds={"fasttext"},
          description="DCLM-style fastText classifier: reference documents (positive) vs the raw pool (negative).")
def dclm_classifier(context: dg.AssetExecutionContext, lake: LakeResource,
                    configs: PipelineConfigs) -> dg.MaterializeResult:
    from curation.scoring import train_dclm_fasttext

    config = quality_models_config(configs)
    reference, summary = _reference(lake.lake, config)
    negatives, negatives_are = _negatives(lake.lake, config, reference)
    positives = with_paragraphs([t for _, _, t in reference])  # short positives too: good is not "long"
    path, metrics = train_dclm_fasttext(positives, negatives, fresh_model_dir(lake.lake, "dclm"))
    context.log.info(f"DCLM fastText: {metrics}")
    return dg.MaterializeResult(metadata={"path": str(path), "positives": len(positives),
                                          "positives_are": f"{len(reference)} reference docs + {len(positives) - len(reference)} "
                                          "of their paragraphs", "negatives": len(negatives),
                                          "negatives_are": negatives_are, **_reference_metadata(summary),
                                          **_metrics_metadata(metrics)})


@dg.asset(key=EDU_KEY, deps=[DEDUPED], group_name="quality_models", kinds={"sklearn"},
          description="FineWeb-Edu-style regressor: multilingual sentence embeddings → Ridge → 0..5; labels from a "
          "rubric PROXY (text statistics), not an LLM judge.")
def edu_regressor(context: dg.AssetExecutionContext, lake: LakeResource, embedder: EmbedderResource,
                  configs: PipelineConfigs) -> dg.MaterializeResult:
    from curation.scoring import rubric_label, train_edu_regressor

    config = quality_models_config(configs)
    cfg = config["edu_regressor"]
    reference, summary = _reference(lake.lake, config)
    negatives, negatives_are = _negatives(lake.lake, config, reference)
    docs = with_paragraphs([t for _, _, t in reference]) + negatives
    docs = docs[:: math.ceil(len(docs) / cfg["max_train_docs"])]  # an even spread over both sides
    labels = [rubric_label(t) for t in docs]
    path, metrics = train_edu_regressor(docs, labels, embedder.embedder(), fresh_model_dir(lake.lake, "edu"))
    context.log.info(f"edu regressor: {metrics}")
    return dg.MaterializeResult(metadata={
        "path": str(path), "train_docs": len(docs), "embedder": embedder.model, "negatives_are": negatives_are,
        "labels": "PROXY: FineWeb-Edu-style rubric computed from text statistics (rubric_label), not an LLM judge",
        **_reference_metadata(summary), **_metrics_metadata(metrics)})


def trained_model_paths(lake: Lake) -> dict[str, Path | None]:
    """Where the scoring stage finds each model (None: not trained yet)."""
    def find(name: str, pattern: str) -> Path | None:
        return next(iter(sorted(model_dir(lake, name).glob(pattern))), None)

    return {"kenlm": find("kenlm", "*.arpa"), "dclm": find("dclm", "*.bin"), "edu": find("edu", "*.npz")}
