"""The quality models the scoring stage uses, trained by the graph itself from the deduped lake."""

import math
import shutil
from pathlib import Path

import dagster as dg
import yaml

from assets.metadata import md_table
from curation.config_keys import refuse_unknown_keys
from curation.lake import Lake
from curation.reference import load_reference, sample_documents, shuffled_words, with_paragraphs
from resources.configs import PipelineConfigs
from resources.lake import LakeResource
from resources.models import EmbedderResource, LLMResource

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
          description="FineWeb-Edu-style regressor: multilingual sentence embeddings → Ridge → 0..5; labels from an "
          "LLM judge with the rubric in configs/prompts/judges/ when a capable model is configured (vLLM), else "
          "from the rubric PROXY (text statistics), named so in the metadata.")
def edu_regressor(context: dg.AssetExecutionContext, lake: LakeResource, embedder: EmbedderResource,
                  configs: PipelineConfigs, llm: LLMResource) -> dg.MaterializeResult:
    from curation.scoring import train_edu_regressor

    config = quality_models_config(configs)
    cfg = config["edu_regressor"]
    reference, summary = _reference(lake.lake, config)
    negatives, negatives_are = _negatives(lake.lake, config, reference)
    docs = with_paragraphs([t for _, _, t in reference]) + negatives
    docs = docs[:: math.ceil(len(docs) / cfg["max_train_docs"])]  # an even spread over both sides
    labels, labelled_by, judge_stats = edu_labels(docs, cfg, llm, lake, configs)
    context.log.info(f"edu labels: {labelled_by}")
    kept = [(t, label) for t, label in zip(docs, labels) if label is not None]
    path, metrics = train_edu_regressor([t for t, _ in kept], [label for _, label in kept], embedder.embedder(),
                                        fresh_model_dir(lake.lake, "edu"), pool=_pool_or_none(negatives, negatives_are))
    context.log.info(f"edu regressor: {metrics}")
    return dg.MaterializeResult(metadata={
        "path": str(path), "train_docs": len(kept), "embedder": embedder.model, "negatives_are": negatives_are,
        "labels": labelled_by, **{f"judge_{k}": v for k, v in judge_stats.items() if not isinstance(v, list)},
        **_reference_metadata(summary), **_metrics_metadata(metrics)})


def _pool_or_none(negatives: list[str], negatives_are: str) -> list[str] | None:
    """The raw pool the edu buckets are percentiles of (Nemotron-CC §2.1); shuffled reference words are no
    pool to rank real text against, so without a deduped category the training texts stand in."""
    return negatives if negatives_are.startswith("raw pool") else None


def _proxy_note(why: str) -> str:
    return f"PROXY: FineWeb-Edu-style rubric computed from text statistics (rubric_label), not an LLM judge ({why})"


def edu_labels(docs: list[str], cfg: dict, llm: LLMResource, lake: LakeResource,
               configs: PipelineConfigs) -> tuple[list, str, dict]:
    """(0..5 label or None per document, who labelled them, judge figures): the LLM judge when
    ``edu_regressor.labels`` and the ``llm`` resource allow it (curation/scoring/llm_judge.py), else the
    rubric proxy."""
    from curation.lm.generation import resolve_backend_kind
    from curation.rewrite.cache import GenerationCache
    from curation.scoring import rubric_label
    from curation.scoring.llm_judge import approx_params, judge, judge_decision, load_judge_prompt

    judge_cfg = cfg.get("judge") or {}
    refuse_unknown_keys(judge_cfg, ("prompt", "min_params", "min_parsed_share"), "quality_models.yaml edu_regressor.judge")
    mode = cfg.get("labels", "auto")
    kind = resolve_backend_kind(llm.backend) if mode == "auto" else llm.backend
    params = approx_params(llm.model_dir()) if mode == "auto" and kind == "vllm" else None
    use, why = judge_decision(mode, kind, params, float(judge_cfg.get("min_params", 1e9)))
    if not use:
        return [rubric_label(t) for t in docs], _proxy_note(why), {}
    prompt = load_judge_prompt(configs.path(judge_cfg.get("prompt", "prompts/judges/edu_rubric.yaml")))
    backend = llm.make_backend()
    with GenerationCache.for_lake(lake.lake) as cache:
        result = judge(docs, backend, prompt, cache)
    floor = float(judge_cfg.get("min_parsed_share", 0.8))
    if result.parsed_share < floor:
        why = f"the judge ended only {result.parsed_share:.2f} of its answers with a score, < {floor}"
        return [rubric_label(t) for t in docs], _proxy_note(why), result.stats
    return result.labels, f"LLM judge: {backend.model_id} via {backend.name}, rubric {prompt.path} ({why})", result.stats


def trained_model_paths(lake: Lake) -> dict[str, Path | None]:
    """Where the scoring stage finds each model (None: not trained yet)."""
    def find(name: str, pattern: str) -> Path | None:
        return next(iter(sorted(model_dir(lake, name).glob(pattern))), None)

    return {"kenlm": find("kenlm", "*.arpa"), "dclm": find("dclm", "*.bin"), "edu": find("edu", "*.npz")}
