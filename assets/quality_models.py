"""The quality models the scoring stage uses, trained by the graph itself from the deduped lake."""

import math
import shutil
from pathlib import Path

import dagster as dg
import yaml

from assets.metadata import readable
from curation.lake import Lake
from curation.reference import sample_documents
from resources.configs import PipelineConfigs, config_version
from resources.lake import LakeResource
from resources.models import EmbedderResource

DEDUPED = dg.AssetKey(["corpus", "deduped"])
KENLM_KEY = dg.AssetKey(["models", "kenlm"])
DCLM_KEY = dg.AssetKey(["models", "dclm_classifier"])
EDU_KEY = dg.AssetKey(["models", "edu_regressor"])
QUALITY_MODELS_VERSION = config_version("quality_models.yaml")


def quality_models_config(configs: PipelineConfigs) -> dict:
    return yaml.safe_load(configs.path("quality_models.yaml").read_text())


def model_dir(lake: Lake, name: str) -> Path:
    return lake.quality_model_dir(name)


def fresh_model_dir(lake: Lake, name: str) -> Path:
    """An emptied model directory, so a retrained model never sits beside a stale one."""
    path = model_dir(lake, name)
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    return path


def _reference(lake: Lake, config: dict) -> list[tuple[str, str, str]]:
    cfg = config["reference"]
    available = [c for c in cfg["categories"] if lake.files("deduped", c)]
    if not available:
        raise ValueError(
            f"no reference documents: none of the reference categories {cfg['categories']} has a deduped "
            f"partition yet (configs/quality_models.yaml); materialize corpus/deduped for them first"
        )
    return sample_documents(lake, "deduped", available, cfg["docs_per_category"], salt="reference")


def _negatives(lake: Lake, config: dict, exclude: set[str]) -> list[tuple[str, str, str]]:
    n = config["negatives"]["docs_per_category"]
    return sample_documents(lake, "deduped", lake.stage_categories("deduped"), n, salt="negatives",
                            exclude_ids=exclude)


def _metrics_metadata(metrics: dict) -> dict:
    return {k: v for k, v in metrics.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}


@dg.asset(key=KENLM_KEY, deps=[DEDUPED], group_name="quality_models", kinds={"kenlm"},
          code_version=QUALITY_MODELS_VERSION,
          description="KenLM n-gram model (Kneser-Ney, kaldingram) of the reference set; perplexity → loss0/1/2.")
def kenlm_model(context: dg.AssetExecutionContext, lake: LakeResource,
                configs: PipelineConfigs) -> dg.MaterializeResult:
    from curation.scoring import train_kenlm

    config = quality_models_config(configs)
    reference = _reference(lake.lake, config)
    path, metrics = train_kenlm((t for _, _, t in reference), config["kenlm"]["order"],
                                fresh_model_dir(lake.lake, "kenlm"))
    context.log.info(f"KenLM trained on {len(reference)} reference docs: {metrics}")
    return dg.MaterializeResult(metadata=readable({"path": str(path), "reference_docs": len(reference),
                                                   **_metrics_metadata(metrics)}))


@dg.asset(key=DCLM_KEY, deps=[DEDUPED], group_name="quality_models", kinds={"fasttext"},
          code_version=QUALITY_MODELS_VERSION,
          description="DCLM-style fastText classifier: reference documents (positive) vs the raw pool (negative).")
def dclm_classifier(context: dg.AssetExecutionContext, lake: LakeResource,
                    configs: PipelineConfigs) -> dg.MaterializeResult:
    from curation.scoring import train_dclm_fasttext

    config = quality_models_config(configs)
    reference = _reference(lake.lake, config)
    negatives = _negatives(lake.lake, config, exclude={d for d, _, _ in reference})
    path, metrics = train_dclm_fasttext([t for _, _, t in reference], [t for _, _, t in negatives],
                                        fresh_model_dir(lake.lake, "dclm"))
    context.log.info(f"DCLM fastText: {metrics}")
    return dg.MaterializeResult(metadata=readable({"path": str(path), "positives": len(reference),
                                                   "negatives": len(negatives), **_metrics_metadata(metrics)}))


@dg.asset(key=EDU_KEY, deps=[DEDUPED], group_name="quality_models", kinds={"sklearn"},
          code_version=QUALITY_MODELS_VERSION,
          description="FineWeb-Edu-style regressor: MiniLM embeddings → Ridge → 0..5, labels from the rubric proxy.")
def edu_regressor(context: dg.AssetExecutionContext, lake: LakeResource, embedder: EmbedderResource,
                  configs: PipelineConfigs) -> dg.MaterializeResult:
    from curation.scoring import rubric_label, train_edu_regressor

    config = quality_models_config(configs)
    cfg = config["edu_regressor"]
    reference = _reference(lake.lake, config)
    negatives = _negatives(lake.lake, config, exclude={d for d, _, _ in reference})
    docs = [(t, True) for _, _, t in reference] + [(t, False) for _, _, t in negatives]
    docs = docs[:: math.ceil(len(docs) / cfg["max_train_docs"])]  # an even spread over both sides
    labels = [rubric_label(t, is_ref) for t, is_ref in docs]
    path, metrics = train_edu_regressor([t for t, _ in docs], labels, embedder.embedder(),
                                        fresh_model_dir(lake.lake, "edu"))
    context.log.info(f"edu regressor: {metrics}")
    return dg.MaterializeResult(metadata=readable({"path": str(path), "train_docs": len(docs), **_metrics_metadata(metrics)}))


def trained_model_paths(lake: Lake) -> dict[str, Path | None]:
    """Where the scoring stage finds each model (None: not trained yet)."""
    def find(name: str, pattern: str) -> Path | None:
        return next(iter(sorted(model_dir(lake, name).glob(pattern))), None)

    return {"kenlm": find("kenlm", "*.arpa"), "dclm": find("dclm", "*.bin"), "edu": find("edu", "*.npz")}
