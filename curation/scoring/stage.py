"""The scoring stage: heuristic rules drop or flag, models score, every figure becomes a column.

``score_partition`` streams record batches twice over a disk spill, never the corpus in memory:
pass 1 applies the category's rule sets (hard failures → drops with the rule as reason; soft
failures → ``rule_flags``), language ID, perplexity and the classifiers, and writes the kept
rows to a temporary parquet file next to the output; then the category's perplexity terciles
are known, and pass 2 adds ``loss_bucket`` while copying the spill into ``out``.
"""

import json
import math
import tempfile
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from curation.document import DOC_SCHEMA, Drop, drops_to_table, validate_category
from curation.embeddings import load_embedder
from curation.lake import PartitionWriter
from curation.scoring.config import ScoringConfig
from curation.scoring.edu_regressor import MAX_SCORE, EduRegressor, Embedder
from curation.scoring.ensemble import (
    LOSS_BUCKETS,
    N_BUCKETS,
    ensemble_buckets,
    loss_buckets,
    quality_labels,
    tercile_edges,
    to_buckets,
)
from curation.scoring.fasttext_dclm import DCLMClassifier
from curation.scoring.heuristics import apply_rules
from curation.scoring.kenlm_ppl import KenLMScorer
from curation.scoring.langid import LanguageId, is_mismatch
from curation.scoring.text_stats import TextStats

STAGE = "scored"
QUALITY_LEVELS = ("high", "mid", "low")

SCORE_FIELDS = [
    pa.field("lang", pa.string()),
    pa.field("lang_score", pa.float64()),
    pa.field("lang_mismatch", pa.bool_()),
    pa.field("cjk_fraction", pa.float64()),
    pa.field("ppl", pa.float64()),
    pa.field("loss_bucket", pa.string()),
    pa.field("dclm_score", pa.float64()),
    pa.field("edu_score", pa.float64()),
    pa.field("edu_int", pa.int8()),
    pa.field("ensemble_bucket", pa.int8()),
    pa.field("quality_bucket", pa.string()),
    pa.field("rule_flags", pa.string()),  # JSON list of failed soft rules, e.g. ["c4:min_sentences"]
]

# Valid range of every numeric score column, for asset checks (None: unbounded on that side).
SCORE_RANGES: dict[str, tuple[float | None, float | None]] = {
    "lang_score": (0.0, 1.0),
    "cjk_fraction": (0.0, 1.0),
    "ppl": (1.0, None),
    "dclm_score": (0.0, 1.0),
    "edu_score": (0.0, float(MAX_SCORE)),
    "edu_int": (0, MAX_SCORE),
    "ensemble_bucket": (0, N_BUCKETS - 1),
}
CATEGORICAL_VALUES = {"loss_bucket": LOSS_BUCKETS, "quality_bucket": QUALITY_LEVELS}


def scored_schema(input_schema: pa.Schema = DOC_SCHEMA) -> pa.Schema:
    """The input columns (DOC_SCHEMA + earlier stages') followed by the score columns."""
    names = {f.name for f in SCORE_FIELDS}
    return pa.schema([f for f in input_schema if f.name not in names] + SCORE_FIELDS)


@dataclass
class ScoringModels:
    """Loaded model handles; a missing model leaves its columns null (the rules still run)."""

    langid: LanguageId | None = None
    kenlm: KenLMScorer | None = None
    dclm: DCLMClassifier | None = None
    edu: EduRegressor | None = None

    @classmethod
    def load(
        cls,
        config: ScoringConfig,
        kenlm_path: Path | None = None,
        dclm_path: Path | None = None,
        edu_path: Path | None = None,
        embedder: Embedder | None = None,
    ) -> "ScoringModels":
        """Open the trained models that are given (paths from the training functions); the
        edu regressor needs the embedder it was trained with (default: MiniLM)."""
        return cls(
            langid=LanguageId(config.langid),
            kenlm=KenLMScorer(kenlm_path, config.kenlm) if kenlm_path else None,
            dclm=DCLMClassifier(dclm_path) if dclm_path else None,
            edu=EduRegressor(edu_path, embedder or load_embedder()) if edu_path else None,
        )


def score_partition(
    batches: Iterable[pa.RecordBatch],
    category: str,
    config: ScoringConfig,
    models: ScoringModels,
    out: PartitionWriter,
    drops_out: PartitionWriter,
) -> dict:
    """Score one category partition; kept rows go to ``out``, drops to ``drops_out`` (not
    committed here: the caller commits both). Returns JSON-serialisable stats."""
    validate_category(category)
    cat_cfg = config.for_category(category)
    langid = models.langid or LanguageId(config.langid)
    timings: Counter = Counter()
    drops_by_reason: Counter = Counter()
    flags_by_rule: Counter = Counter()
    langs: Counter = Counter()
    docs_in = bytes_in = n_mismatch = n_cjk = 0
    ppl_parts, dclm_parts, edu_parts, bucket_parts, edu_int_parts = [], [], [], [], []
    t_start = time.perf_counter()

    with tempfile.TemporaryDirectory(prefix=".scoring-spill-", dir=out.target_dir.parent) as spill_dir:
        spill_path = f"{spill_dir}/pass1.parquet"
        spill: pq.ParquetWriter | None = None
        for batch in batches:
            texts = batch.column("text").to_pylist()
            ids = batch.column("id").to_pylist()
            docs_in += len(texts)
            keep: list[int] = []
            rows: dict[str, list] = {
                "lang": [],
                "lang_score": [],
                "lang_mismatch": [],
                "cjk_fraction": [],
                "rule_flags": [],
            }
            drops: list[Drop] = []
            t0, langid_before = time.perf_counter(), timings["langid"]
            for i, text in enumerate(texts):
                if not text or not text.strip():
                    drops.append(Drop(ids[i], category, STAGE, "empty_text", param_version=config.version))
                    continue
                bytes_in += len(text.encode("utf-8", "surrogatepass"))
                stats = TextStats(text, config.cjk_threshold)
                hard, soft = apply_rules(stats, cat_cfg.rule_sets)
                if hard is not None:
                    drops.append(
                        Drop(ids[i], category, STAGE, hard.rule, detail=hard.detail(), param_version=config.version)
                    )
                    continue
                t1 = time.perf_counter()
                lang, lang_score = langid.classify(text)
                timings["langid"] += time.perf_counter() - t1
                mismatch = is_mismatch(lang, cat_cfg.languages)
                if mismatch and cat_cfg.drop_lang_mismatch:
                    drops.append(
                        Drop(
                            ids[i],
                            category,
                            STAGE,
                            "langid:mismatch",
                            detail=f"{lang} ({lang_score:.2f}) not in {list(cat_cfg.languages)}",
                            param_version=config.version,
                        )
                    )
                    continue
                keep.append(i)
                rows["lang"].append(lang)
                rows["lang_score"].append(lang_score)
                rows["lang_mismatch"].append(mismatch)
                rows["cjk_fraction"].append(stats.cjk_fraction)
                rows["rule_flags"].append(json.dumps([f.rule for f in soft]))
                flags_by_rule.update(f.rule for f in soft)
                langs[lang] += 1
                n_mismatch += mismatch
                n_cjk += stats.is_cjk
            timings["rules"] += time.perf_counter() - t0 - (timings["langid"] - langid_before)
            for d in drops:
                drops_by_reason[d.reason] += 1
            if drops:
                drops_out.write(drops_to_table(drops))
            if not keep:
                continue
            kept_texts = [texts[i] for i in keep]
            scores = _model_scores(kept_texts, models, timings)
            buckets = _ensemble(scores, models)
            rows.update(
                ppl=scores["ppl"],
                loss_bucket=[None] * len(keep),
                dclm_score=scores["dclm"],
                edu_score=scores["edu"],
                edu_int=_edu_int(scores["edu"]),
                ensemble_bucket=buckets,
                quality_bucket=(quality_labels(buckets, config.ensemble) if buckets is not None else None),
            )
            table = _kept_table(batch.take(pa.array(keep)), rows)
            if spill is None:
                spill = pq.ParquetWriter(spill_path, table.schema)
            spill.write_table(table)
            ppl_parts.append(np.asarray(scores["ppl"], dtype=np.float64))
            for parts, key in ((dclm_parts, "dclm"), (edu_parts, "edu")):
                if scores[key] is not None:
                    parts.append(scores[key])
            if buckets is not None:
                bucket_parts.append(buckets)
            if scores["edu"] is not None:
                edu_int_parts.append(_edu_int(scores["edu"]))
        if spill is not None:
            spill.close()

        ppl_all = np.concatenate(ppl_parts) if ppl_parts else np.empty(0)
        loss_edges = tercile_edges(ppl_all)
        docs_out = 0
        loss_counts: Counter = Counter()
        if spill is not None:
            for part in pq.ParquetFile(spill_path).iter_batches(batch_size=4096):
                ppl = part.column("ppl").to_numpy(zero_copy_only=False).astype(np.float64)
                labels = loss_buckets(ppl, loss_edges)
                loss_counts.update(x for x in labels if x is not None)
                idx = part.schema.get_field_index("loss_bucket")
                part = part.set_column(idx, "loss_bucket", pa.array(labels, type=pa.string()))
                out.write(part)
                docs_out += part.num_rows

    elapsed = time.perf_counter() - t_start
    buckets_all = np.concatenate(bucket_parts) if bucket_parts else np.empty(0, dtype=np.int8)
    quality_counts = Counter(quality_labels(buckets_all, config.ensemble)) if len(buckets_all) else Counter()
    return {
        "stage": STAGE,
        "category": category,
        "config_version": config.version,
        "docs_in": docs_in,
        "docs_out": docs_out,
        "drops_by_reason": dict(drops_by_reason.most_common()),
        "drop_fraction_by_reason": {r: round(n / docs_in, 4) for r, n in drops_by_reason.most_common()},
        "soft_flags_by_rule": dict(flags_by_rule.most_common()),
        "languages": dict(langs.most_common(10)),
        "lang_mismatch": n_mismatch,
        "cjk_docs": n_cjk,
        "loss_bucket_edges_ppl": [round(x, 3) for x in loss_edges] if math.isfinite(loss_edges[0]) else None,
        "loss_bucket_fraction": _fractions(loss_counts, docs_out),
        "quality_bucket_fraction": _fractions(quality_counts, docs_out),
        "ensemble_bucket_histogram": np.bincount(buckets_all, minlength=N_BUCKETS).tolist()
        if len(buckets_all)
        else None,
        "edu_int_histogram": np.bincount(np.concatenate(edu_int_parts), minlength=MAX_SCORE + 1).tolist()
        if edu_int_parts
        else None,
        "ppl_quantiles": _quantiles(ppl_all),
        "dclm_score_quantiles": _quantiles(np.concatenate(dclm_parts)) if dclm_parts else None,
        "edu_score_quantiles": _quantiles(np.concatenate(edu_parts)) if edu_parts else None,
        "bytes_in": bytes_in,
        "seconds": round(elapsed, 3),
        "mb_per_s": round(bytes_in / 1e6 / elapsed, 3) if elapsed > 0 else None,
        "seconds_by_step": {k: round(v, 3) for k, v in timings.items()},
    }


def _model_scores(texts: list[str], models: ScoringModels, timings: Counter) -> dict:
    scores: dict = {"ppl": [math.nan] * len(texts), "dclm": None, "edu": None}
    if models.kenlm is not None:
        t0 = time.perf_counter()
        scores["ppl"] = [models.kenlm.perplexity(t) for t in texts]
        timings["kenlm"] += time.perf_counter() - t0
    if models.dclm is not None:
        t0 = time.perf_counter()
        scores["dclm"] = models.dclm.scores(texts)
        timings["dclm"] += time.perf_counter() - t0
    if models.edu is not None:
        t0 = time.perf_counter()
        scores["edu"] = models.edu.scores(texts)
        timings["edu"] += time.perf_counter() - t0
    return scores


def _ensemble(scores: dict, models: ScoringModels) -> np.ndarray | None:
    per_classifier = [
        to_buckets(np.nan_to_num(scores[key], nan=0.0), model.bucket_edges)
        for key, model in (("dclm", models.dclm), ("edu", models.edu))
        if model is not None
    ]
    return ensemble_buckets(per_classifier) if per_classifier else None


def _edu_int(edu: np.ndarray | None) -> np.ndarray | None:
    return None if edu is None else np.rint(edu).astype(np.int8)


def _kept_table(kept: pa.RecordBatch, rows: dict) -> pa.Table:
    table = pa.Table.from_batches([kept])
    for f in SCORE_FIELDS:
        if f.name in table.column_names:
            table = table.drop_columns([f.name])
        values = rows.get(f.name)
        column = pa.nulls(kept.num_rows, f.type) if values is None else pa.array(_nan_to_none(values), type=f.type)
        table = table.append_column(f, column)
    return table


def _nan_to_none(values):
    if isinstance(values, np.ndarray) and values.dtype.kind == "f":
        return [None if math.isnan(v) else v for v in values.tolist()]
    if isinstance(values, list) and values and isinstance(values[0], float):
        return [None if math.isnan(v) else v for v in values]
    return values


def _fractions(counts: Counter, total: int) -> dict:
    return {k: round(v / total, 4) for k, v in sorted(counts.items())} if total else {}


def _quantiles(values: np.ndarray) -> dict | None:
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return None
    qs = np.quantile(finite, [0.05, 0.25, 0.5, 0.75, 0.95])
    return {f"p{int(p * 100)}": round(float(q), 4) for p, q in zip([0.05, 0.25, 0.5, 0.75, 0.95], qs)}
