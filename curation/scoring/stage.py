"""The scoring stage: heuristic rules drop or flag, models score, every figure becomes a column.

``score_partition`` streams record batches twice over parts on disk, never the corpus in memory:
the category's profile (detected from its documents) selects its rule sets; pass 1 applies them (hard
failures → drops with the rule as reason; soft failures → ``rule_flags``), language ID, perplexity and the
classifiers, and writes each input file's kept rows and drops to a part of its own (``resume.py``: kept
between runs when the caller names a folder, so a killed run resumes after its last finished file); then
the category's perplexity terciles are known, and pass 2 adds ``loss_bucket`` while copying the parts into
``out``.
"""

import itertools
import json
import math
import pickle
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from curation.compute import BatchMapper, Engine, ParquetFiles
from curation.document import DOC_SCHEMA, Drop, drops_to_table, validate_category
from curation.embeddings import EmbedderSpec, load_embedder
from curation.lake import BATCH_ROWS, PartitionWriter, iter_parquet
from curation.parts import PartStore
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
from curation.scoring.gating import gate
from curation.scoring.heuristics import apply_rules_gated
from curation.scoring.kenlm_ppl import KenLMScorer
from curation.scoring.langid import LanguageId, is_mismatch
from curation.scoring.profiles import Profile, detect_profile
from curation.scoring.resume import FilePart, file_key, models_identity, parts_version
from curation.scoring.rules import Failure
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


@dataclass(frozen=True)
class ModelFiles:
    """Where ``ScoringModels.load`` opened its models: enough for another process (a Ray worker) to open the same
    ones, once per worker (``RulesMapper.setup``). ``embedder``: the edu regressor's, as an ``EmbedderSpec`` or
    an importable function (None: ``load_embedder()``)."""

    kenlm: Path | None = None
    dclm: Path | None = None
    edu: Path | None = None
    embedder: EmbedderSpec | Callable | None = None


@dataclass
class ScoringModels:
    """Loaded model handles; a missing model leaves its columns null (the rules still run). ``files``: where
    ``load`` found them (None for handles built by hand: those score on the driver)."""

    langid: LanguageId | None = None
    kenlm: KenLMScorer | None = None
    dclm: DCLMClassifier | None = None
    edu: EduRegressor | None = None
    files: ModelFiles | None = None

    @classmethod
    def load(
        cls,
        config: ScoringConfig,
        kenlm_path: Path | None = None,
        dclm_path: Path | None = None,
        edu_path: Path | None = None,
        embedder: Embedder | EmbedderSpec | None = None,
    ) -> "ScoringModels":
        """Open the trained models that are given (paths from the training functions); the
        edu regressor needs the embedder it was trained with (default: ``load_embedder()``)."""
        files = ModelFiles(kenlm_path, dclm_path, edu_path, embedder)
        embed = embedder.open() if isinstance(embedder, EmbedderSpec) else embedder
        return cls(
            langid=LanguageId(config.langid),
            kenlm=KenLMScorer(kenlm_path, config.kenlm) if kenlm_path else None,
            dclm=DCLMClassifier(dclm_path) if dclm_path else None,
            edu=EduRegressor(edu_path, embed or load_embedder()) if edu_path else None,
            files=files,
        )

    def worker_files(self) -> ModelFiles | None:
        """``files`` when a worker can open them (they pickle) and there is a model to run; else None."""
        if self.files is None or not (self.kenlm or self.dclm or self.edu):
            return None
        try:
            pickle.dumps(self.files)
        except (pickle.PicklingError, TypeError, AttributeError):
            return None  # e.g. an embedder closure: the models score on the driver
        return self.files


@dataclass
class _Tally:
    """What the passes count, for the stats the asset shows."""

    docs_in: int = 0
    bytes_in: int = 0
    n_mismatch: int = 0
    n_cjk: int = 0
    drops_by_reason: Counter = field(default_factory=Counter)
    flags_by_rule: Counter = field(default_factory=Counter)
    langs: Counter = field(default_factory=Counter)
    timings: Counter = field(default_factory=Counter)
    parts: dict = field(default_factory=lambda: {k: [] for k in ("ppl", "dclm", "edu", "bucket", "edu_int")})

    def values(self, key: str) -> np.ndarray | None:
        return np.concatenate(self.parts[key]) if self.parts[key] else None


def score_partition(
    batches: Iterable[pa.RecordBatch],
    category: str,
    config: ScoringConfig,
    models: ScoringModels,
    out: PartitionWriter,
    drops_out: PartitionWriter,
    profile: Profile | None = None,
    engine: Engine | None = None,
    parts: Path | None = None,
) -> dict:
    """Score one category partition; kept rows go to ``out``, drops to ``drops_out`` (not
    committed here: the caller commits both). ``profile``: the category's detected profile (the
    asset detects it on a hash sample of the partition); None detects it on the first documents.
    With shard files (``ParquetFiles``) and an ``engine``, the rules and language ID run through the
    engine (``RulesMapper``; Ray Data with ``ray``), and so do the perplexity and classifier models when
    ``models`` came from ``ScoringModels.load`` (each worker opens them once), with the same result.
    ``parts``: a folder (``curation.parts.parts_root``) where pass 1 commits each shard file's output as it
    finishes, so a re-run or a killed run resumes after the last finished file (``resume.py``; shard files only).
    Returns JSON-serialisable stats."""
    validate_category(category)
    langid = models.langid or LanguageId(config.langid)
    files = batches if isinstance(batches, ParquetFiles) else None
    stream = iter(files.iter_batches() if files is not None else batches)
    if profile is None:
        profile, stream = _profile_from_head(stream, langid, config)
    cat_cfg = config.for_category(category, profile)
    expected = cat_cfg.languages or profile.languages
    identity = models_identity(models.files, bool(models.kenlm or models.dclm or models.edu))
    t_start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix=".scoring-parts-", dir=out.target_dir.parent) as scratch:
        resumable = bool(parts is not None and files is not None and files.paths and identity is not None)
        schema = pq.read_schema(files.paths[0]) if files is not None and files.paths else DOC_SCHEMA
        store = PartStore(Path(parts) if resumable else Path(scratch),
                          parts_version(config.version, profile.rules_key, expected, identity or "", schema))
        keys = [file_key(path) for path in files.paths] if resumable else [f"input-{i}" for i in
                                                                             range(len(files.paths) if files else 1)]
        settled = store.by_item()
        todo = [i for i, key in enumerate(keys) if key not in settled]
        tallies: dict[int, _Tally] = {}
        tally_of = lambda i: tallies.setdefault(i, _Tally())  # one tally per input file
        if files is None:
            ruled = ((0, b, _apply_rules(b, category, config, cat_cfg, expected, langid, tally_of(0))) for b in stream)
        elif engine is None:
            ruled = ((i, b, _apply_rules(b, category, config, cat_cfg, expected, langid, tally_of(i)))
                     for i in todo for b in iter_parquet(files.paths[i], batch_size=BATCH_ROWS,
                                                                                       columns=files._columns))
        else:
            # the models go to the workers of a distributed engine; in this process they are loaded already
            worker_models = models.worker_files() if engine.name != "local" else None
            ruled = _ruled_by_engine(files, todo, engine, category, config, cat_cfg, expected, tally_of, worker_models)
        _score_to_parts(ruled, keys, store, category, config, models, tally_of, tallies)
        docs_out, tally, ppl_all, loss_edges, loss_counts = _assemble(store, keys, out, drops_out)
        if resumable:
            store.forget(set(keys))
            store.prune()
    elapsed = time.perf_counter() - t_start
    stats = _summary(category, config, profile, expected, tally, ppl_all, loss_edges, loss_counts, docs_out, elapsed)
    stats["files_resumed"] = len(keys) - len(todo) if files is not None else 0
    stats["resumable"] = resumable
    return stats


def _profile_from_head(batches, langid: LanguageId, config: ScoringConfig):
    """Detect the profile on the first ``profile.sample_docs`` documents, then replay those batches."""
    head, texts = [], []
    for batch in batches:
        head.append(batch)
        texts += batch.column("text").to_pylist()
        if len(texts) >= config.profile.sample_docs:
            break
    return detect_profile(texts, langid, config.profile), itertools.chain(head, batches)


def _score_to_parts(ruled, keys, store: PartStore, category, config, models, tally_of, tallies) -> None:
    """Pass 1: per batch, given its rule verdicts (rules, language ID), the model scores; each input file's kept
    rows and drops stream into its part, committed with the file's tally once its last batch is done."""
    part, current = None, None
    for i, batch, (keep, rows, drops) in ruled:
        if i != current:
            if part is not None:
                part.commit(_tally_counts(tallies.pop(current)))
            part, current = FilePart(store, keys[i]), i
        tally = tally_of(i)
        table = _scored_table(batch, keep, rows, models, config, tally, category, drops) if keep else None
        for d in drops:
            tally.drops_by_reason[d.reason] += 1
        if drops:
            part.write_drops(drops_to_table(drops))
        if table is not None:
            part.write_rows(table)
    if part is not None:
        part.commit(_tally_counts(tallies.pop(current)))


def _assemble(store: PartStore, keys: list[str], out: PartitionWriter, drops_out: PartitionWriter):
    """Pass 2 over the parts of the current input files, in file order: the tally and the score arrays (read
    back from the kept rows, the same values pass 1 computed), the perplexity terciles, then rows labelled
    loss0/1/2 into ``out`` and the drops into ``drops_out``."""
    settled = store.by_item()
    parts = [(key, settled[key]) for key in keys if key in settled]
    tally = _Tally()
    for _, part in parts:
        _add_counts(tally, part.counters)
    with_rows = [store.path(part.name, "rows") for key, part in parts if part.items[key]["rows"]]
    for path in with_rows:
        _tally_scores(pq.read_table(path, columns=list(_SCORE_ARRAYS.values())), tally)
    ppl_all = tally.values("ppl") if tally.parts["ppl"] else np.empty(0)
    loss_edges = tercile_edges(ppl_all)
    docs_out, loss_counts = _write_with_loss_buckets(with_rows, loss_edges, out)
    for _, part in parts:
        drops = pq.read_table(store.path(part.name, "drops"))
        if drops.num_rows:
            drops_out.write(drops)
    return docs_out, tally, ppl_all, loss_edges, loss_counts


# tally arrays <- the kept rows' columns; a model that did not run left its column null
_SCORE_ARRAYS = {"ppl": "ppl", "dclm": "dclm_score", "edu": "edu_score", "bucket": "ensemble_bucket",
                 "edu_int": "edu_int"}


def _tally_scores(scores: pa.Table, tally: _Tally) -> None:
    for key, column in _SCORE_ARRAYS.items():
        values = scores.column(column)
        if key == "ppl":  # always kept (NaN without KenLM, stored as null)
            tally.parts[key].append(values.to_numpy(zero_copy_only=False).astype(np.float64))
        elif values.null_count == 0:
            tally.parts[key].append(values.to_numpy(zero_copy_only=False))


def _apply_rules(batch, category, config, cat_cfg, expected, langid, tally: _Tally):
    """Rule sets then language ID for one batch: (kept row indices, their per-row columns, drops)."""
    texts, ids = batch.column("text").to_pylist(), batch.column("id").to_pylist()
    tally.docs_in += len(texts)
    keep: list[int] = []
    rows: dict[str, list] = {k: [] for k in ("lang", "lang_score", "lang_mismatch", "cjk_fraction", "rule_flags",
                                             "_gated", "_is_cjk")}
    drops: list[Drop] = []
    t0, langid_before = time.perf_counter(), tally.timings["langid"]

    def drop(i: int, reason: str, detail: str | None = None) -> None:
        drops.append(Drop(ids[i], category, STAGE, reason, detail=detail, param_version=config.version))

    for i, text in enumerate(texts):
        if not text or not text.strip():
            drop(i, "empty_text")
            continue
        tally.bytes_in += len(text.encode("utf-8", "surrogatepass"))
        stats = TextStats(text, config.cjk_threshold)
        hard, gated, soft = apply_rules_gated(stats, cat_cfg.rule_sets)
        if hard is not None:
            drop(i, hard.rule, hard.detail())
            continue
        t1 = time.perf_counter()
        lang, lang_score = langid.classify(text)
        tally.timings["langid"] += time.perf_counter() - t1
        mismatch = is_mismatch(lang, expected)
        if mismatch and cat_cfg.drop_lang_mismatch:
            drop(i, "langid:mismatch", f"{lang} ({lang_score:.2f}) not in {list(expected)}")
            continue
        keep.append(i)
        for key, value in (("lang", lang), ("lang_score", lang_score), ("lang_mismatch", mismatch),
                           ("cjk_fraction", stats.cjk_fraction), ("rule_flags", [f.rule for f in soft]),
                           ("_gated", gated), ("_is_cjk", stats.is_cjk)):
            rows[key].append(value)
    tally.timings["rules"] += time.perf_counter() - t0 - (tally.timings["langid"] - langid_before)
    return keep, rows, drops


def _scored_table(batch, keep, rows, models, config, tally: _Tally, category: str,
                  drops: list[Drop]) -> pa.Table | None:
    """The kept rows of one batch with every score column (loss_bucket filled in pass 2); gated rule
    failures (gating.py) scoring below high are appended to ``drops``. None when no row is left."""
    if "_ppl" in rows:  # scored by the engine's workers with the rules (RulesMapper with model files)
        scores = {"ppl": rows.pop("_ppl"), "dclm": _column(rows.pop("_dclm")), "edu": _column(rows.pop("_edu"))}
    else:
        scores = _model_scores([batch.column("text")[i].as_py() for i in keep], models, tally.timings)
    buckets = _ensemble(scores, models)
    keep, rows, scores, buckets = _gated(batch, keep, rows, scores, buckets, config, category, drops)
    if not keep:
        return None
    _tally_kept(rows, tally)
    rows["rule_flags"] = [json.dumps(flags) for flags in rows["rule_flags"]]
    edu_int = _edu_int(scores["edu"])
    rows.update(
        ppl=scores["ppl"], loss_bucket=[None] * len(keep), dclm_score=scores["dclm"], edu_score=scores["edu"],
        edu_int=edu_int, ensemble_bucket=buckets,
        quality_bucket=quality_labels(buckets, config.ensemble) if buckets is not None else None,
    )
    return _kept_table(batch.take(pa.array(keep)), rows)


def _gated(batch, keep, rows, scores, buckets, config, category, drops):
    """Drop the gated failures the ensemble does not rate high; flag the exempt ones."""
    if not any(g is not None for g in rows["_gated"]):
        return keep, rows, scores, buckets
    ids = [batch.column("id")[i].as_py() for i in keep]
    mask, gate_drops, flags = gate(ids, rows["_gated"], buckets, config.ensemble, category, STAGE, config.version)
    drops.extend(gate_drops)
    for i, flag in enumerate(flags):
        if flag is not None:
            rows["rule_flags"][i] = [*rows["rule_flags"][i], flag]
    idx = np.flatnonzero(mask)
    rows = {k: [v[i] for i in idx] for k, v in rows.items()}
    scores = {k: (None if v is None else (v[idx] if isinstance(v, np.ndarray) else [v[i] for i in idx]))
              for k, v in scores.items()}
    return [keep[i] for i in idx], rows, scores, (buckets[idx] if buckets is not None else None)


def _tally_kept(rows, tally: _Tally) -> None:
    for flags, lang, mismatch, cjk in zip(rows["rule_flags"], rows["lang"], rows["lang_mismatch"], rows["_is_cjk"]):
        tally.flags_by_rule.update(flags)
        tally.langs[lang] += 1
        tally.n_mismatch += mismatch
        tally.n_cjk += cjk


def _write_with_loss_buckets(paths: list[Path], loss_edges, out: PartitionWriter) -> tuple[int, Counter]:
    """Pass 2: the category's perplexity terciles are known; label loss0/1/2 while copying to ``out``."""
    docs_out, loss_counts = 0, Counter()
    # batches no larger than pass 1's row groups (4,096 rows spanned two or three of them): a row group of long
    # documents (source files) runs to tens of MB
    for part in (b for path in paths for b in iter_parquet(path, batch_size=BATCH_ROWS)):
        ppl = part.column("ppl").to_numpy(zero_copy_only=False).astype(np.float64)
        labels = loss_buckets(ppl, loss_edges)
        loss_counts.update(x for x in labels if x is not None)
        idx = part.schema.get_field_index("loss_bucket")
        part = part.set_column(idx, "loss_bucket", pa.array(labels, type=pa.string()))
        out.write(part)
        docs_out += part.num_rows
    return docs_out, loss_counts


def _summary(category, config, profile, expected, tally: _Tally, ppl_all, loss_edges, loss_counts, docs_out,
             elapsed) -> dict:
    buckets_all = tally.values("bucket")
    quality_counts = Counter(quality_labels(buckets_all, config.ensemble)) if buckets_all is not None else Counter()
    edu_int_all, dclm_all, edu_all = tally.values("edu_int"), tally.values("dclm"), tally.values("edu")
    docs_in = tally.docs_in
    return {
        "stage": STAGE,
        "category": category,
        "config_version": config.version,
        "profile": profile.to_dict(),
        "profile_note": profile.describe(),
        "expected_languages": list(expected),
        "docs_in": docs_in,
        "docs_out": docs_out,
        "drops_by_reason": dict(tally.drops_by_reason.most_common()),
        "drop_fraction_by_reason": {r: round(n / docs_in, 4) for r, n in tally.drops_by_reason.most_common()},
        "soft_flags_by_rule": dict(tally.flags_by_rule.most_common()),
        "languages": dict(tally.langs.most_common(10)),
        "lang_mismatch": tally.n_mismatch,
        "cjk_docs": tally.n_cjk,
        "loss_bucket_edges_ppl": [round(x, 3) for x in loss_edges] if math.isfinite(loss_edges[0]) else None,
        "loss_bucket_fraction": _fractions(loss_counts, docs_out),
        "quality_bucket_fraction": _fractions(quality_counts, docs_out),
        "ensemble_bucket_histogram": np.bincount(buckets_all, minlength=N_BUCKETS).tolist()
        if buckets_all is not None and len(buckets_all) else None,
        "edu_int_histogram": np.bincount(edu_int_all, minlength=MAX_SCORE + 1).tolist()
        if edu_int_all is not None else None,
        "ppl_quantiles": _quantiles(ppl_all),
        "dclm_score_quantiles": _quantiles(dclm_all) if dclm_all is not None else None,
        "edu_score_quantiles": _quantiles(edu_all) if edu_all is not None else None,
        "bytes_in": tally.bytes_in,
        "seconds": round(elapsed, 3),
        "mb_per_s": round(tally.bytes_in / 1e6 / elapsed, 3) if elapsed > 0 else None,
        "seconds_by_step": {k: round(v, 3) for k, v in tally.timings.items()},
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


def _column(values: list) -> np.ndarray | None:
    """A model's scores as they came through JSON: None when the model was absent."""
    return None if values[0] is None else np.asarray(values, dtype=np.float64)


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


_VERDICT, _TALLY = "_rules_verdict", "_rules_tally"
_TALLY_COUNTERS = ("drops_by_reason", "flags_by_rule", "langs", "timings")
_TALLY_COUNTS = ("docs_in", "bytes_in", "n_mismatch", "n_cjk")


def _tally_counts(tally: _Tally) -> dict:
    """A tally's counts as JSON (a batch's, from a worker; a shard file's, in its part's marker)."""
    counts = {k: getattr(tally, k) for k in _TALLY_COUNTS}
    counts.update({k: dict(getattr(tally, k)) for k in _TALLY_COUNTERS})
    return counts


def _add_counts(tally: _Tally, counts: dict) -> None:
    for k in _TALLY_COUNTS:
        setattr(tally, k, getattr(tally, k) + counts[k])
    for k in _TALLY_COUNTERS:
        getattr(tally, k).update(counts.get(k, {}))


class RulesMapper(BatchMapper):
    """The rules and language ID of ``_apply_rules`` as a row-preserving batch function, for the compute
    engine: each row gets its verdict as JSON (kept with its rule columns, or dropped with reason and detail);
    the batch's tally rides on its first row. With ``models`` (``ModelFiles``) the kept rows are also scored
    by the perplexity and classifier models, opened once per process in ``setup``, on the batch's kept texts
    as ``_scored_table`` scores them in-process (the engine gives the mapper the same batches)."""

    def __init__(self, category, config, cat_cfg, expected, models: ModelFiles | None = None):
        self.category, self.config, self.cat_cfg, self.expected = category, config, cat_cfg, expected
        self.models = models
        self._langid = self._models = None

    def __getstate__(self):
        return {**self.__dict__, "_langid": None, "_models": None}

    def setup(self) -> None:
        self._langid = LanguageId(self.config.langid)
        if self.models is not None:
            m = self.models
            self._models = ScoringModels.load(self.config, m.kenlm, m.dclm, m.edu, m.embedder)

    def __call__(self, table: pa.Table) -> pa.Table:
        tally = _Tally()
        batch = table.combine_chunks().to_batches()[0] if table.num_rows else table
        keep, rows, drops = _apply_rules(batch, self.category, self.config, self.cat_cfg, self.expected,
                                         self._langid, tally)
        if self._models is not None and keep:
            scores = _model_scores([batch.column("text")[i].as_py() for i in keep], self._models, tally.timings)
            for key in ("ppl", "dclm", "edu"):
                values = scores[key]
                rows[f"_{key}"] = [None] * len(keep) if values is None else [float(v) for v in values]
        verdicts: list[str | None] = [None] * table.num_rows
        for j, i in enumerate(keep):
            row = {k: v[j] for k, v in rows.items()}
            gated = row["_gated"]  # a Failure (gating.py decides after the model scores) travels as its fields
            row["_gated"] = None if gated is None else [gated.rule, gated.value, gated.threshold]
            verdicts[i] = json.dumps({"row": row})
        ids = table.column("id").to_pylist()
        position = {}
        for i, doc_id in enumerate(ids):
            position.setdefault(doc_id, []).append(i)
        taken = {i for i in keep}
        for d in drops:  # drops come in row order; a repeated id takes its next free row
            i = next(i for i in position[d.doc_id] if i not in taken)
            taken.add(i)
            verdicts[i] = json.dumps({"drop": [d.reason, d.detail]})
        tallies = [json.dumps(_tally_counts(tally))] + [None] * (table.num_rows - 1) if table.num_rows else []
        return table.append_column(_VERDICT, pa.array(verdicts, pa.string())).append_column(
            _TALLY, pa.array(tallies, pa.string()))


def _ruled_by_engine(files: ParquetFiles, todo: list[int], engine: Engine, category, config, cat_cfg, expected,
                     tally_of: Callable[[int], _Tally], models: ModelFiles | None = None, batch_size: int = BATCH_ROWS):
    """(file index, batch, (keep, rows, drops)) as ``_apply_rules`` gives them for the files ``todo``, computed
    by the engine; batches are cut at the same boundaries as ``Lake.iter_batches`` (per file, ``batch_size``
    rows), so the model scores that follow see the same batches as in-process. With ``models`` the engine's
    mapper scores the kept rows too, on batches of ``batch_size`` (the in-process batches), so its numbers are
    the in-process ones."""
    if not todo:
        return
    mapper = RulesMapper(category, config, cat_cfg, expected, models)
    source = ParquetFiles.of([files.paths[i] for i in todo], files.columns)
    held: list[pa.Table] = []
    current = None

    def emit(tables, i):
        table = pa.concat_tables(tables).combine_chunks()
        for start in range(0, table.num_rows, batch_size):
            yield (i, *_decode(table.slice(start, batch_size), category, config, tally_of(i)))

    for j, table in engine.map_files(source, mapper, batch_size=batch_size if models is not None else None):
        if current is not None and todo[j] != current:
            yield from emit(held, current)
            held = []
        current = todo[j]
        held.append(table)
        rows_held = sum(t.num_rows for t in held)
        if rows_held >= batch_size:
            whole = pa.concat_tables(held).combine_chunks()
            cut = rows_held - rows_held % batch_size
            yield from emit([whole.slice(0, cut)], current)
            held = [whole.slice(cut)] if cut < rows_held else []
    if held:
        yield from emit(held, current)


def _decode(part: pa.Table, category, config, tally: _Tally):
    for text in part.column(_TALLY).to_pylist():
        if text is not None:
            _add_counts(tally, json.loads(text))
    verdicts = [json.loads(v) for v in part.column(_VERDICT).to_pylist()]
    batch = part.drop_columns([_VERDICT, _TALLY]).to_batches()[0] if part.num_rows else None
    ids = part.column("id").to_pylist()
    keep = [i for i, v in enumerate(verdicts) if "row" in v]
    rows: dict[str, list] = {}
    for i in keep:
        for k, value in verdicts[i]["row"].items():
            rows.setdefault(k, []).append(Failure(*value) if k == "_gated" and value is not None else value)
    drops = [Drop(ids[i], category, STAGE, v["drop"][0], detail=v["drop"][1], param_version=config.version)
             for i, v in enumerate(verdicts) if "drop" in v]
    return batch, (keep, rows, drops)
