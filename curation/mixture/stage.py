"""``build_mixture``: curated documents -> one curriculum stage's token-budgeted, held-out-safe,
decontaminated training mixture.

Output folder (swapped in atomically, a re-run replaces it whole)::

    megatron/<slice>_text_document.{bin,idx}   ordering "random": one Megatron indexed dataset a slice
    megatron/ordered_text_document.{bin,idx}   ordering "ppl_ascending": every slice in one dataset, in order
    blend.txt                                  "weight prefix" pairs for Megatron --data-path / FlagScale
    samples/part-*.parquet                     one row per written sequence (train, with its file and
                                               position) and per held-out document
    heldout.parquet                            held-out documents: id, slice, parent, text, token ids
    mixture_manifest.json                      spec, stage, tokenizer, stats and file hashes

Steps (each a function below): pool the documents (validate, decontaminate against the eval
index, tokenize once into scratch datasets per slice), choose the held-out set, pick each
slice's training candidates (no held-out relative, no near copy of a held-out text), turn group
ratios into token targets, write the sampled sequences, write the held-out set, write blend and
manifest. Memory is bounded by a batch plus a few numbers per document.

Order in a ``ppl_ascending`` stage: sequences are written by (repeat index, perplexity) into one
dataset, so the file order is the curriculum. Megatron-core's GPTDataset always shuffles documents
and samples inside a dataset (``_build_document_index`` / ``_build_shuffle_index`` in
megatron-core 0.16.1, no flag turns it off), so to keep the order in Megatron train the file with a
data loader that reads it sequentially (``--dataloader-type external`` with a sequential sampler);
corpusforge's own trainer reads it in order (``PackedBlocks(shuffle=False)``). A random stage's
per-slice files are blended by Megatron's BlendedDataset with the weights of ``blend.txt``.
"""

import json
import math
import shutil
import time
import uuid
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from curation.decontam.index import EvalIndex, EvalItem
from curation.document import Drop, InvalidCategoryError, drops_to_table
from curation.hashing import file_sha256
from curation.lake import PartitionWriter, replace_dir
from curation.mixture.curriculum import StageSpec, single_stage
from curation.mixture.groups import document_group, document_slice, majority_group, slice_shares
from curation.mixture.megatron import (
    IndexedDataset,
    IndexedDatasetWriter,
    bin_path,
    dtype_for_vocab,
    idx_path,
    write_blend_file,
)
from curation.mixture.sampler import HeldoutSelector, allocate_targets, plan_category, unit_hash
from curation.mixture.spec import MixtureSpec, MixtureSpecError
from curation.mixture.tokens import encode_texts, resolve_eod

STAGE = "mixed"
MANIFEST_NAME = "mixture_manifest.json"
BLEND_NAME = "blend.txt"
HELDOUT_NAME = "heldout.parquet"
SAMPLES_DIR = "samples"
MEGATRON_DIR = "megatron"
ORDERED_FILE = "ordered"

SAMPLE_SCHEMA = pa.schema(
    [
        pa.field("doc_id", pa.string(), nullable=False),
        pa.field("category", pa.string(), nullable=False),  # the slice
        pa.field("group", pa.string(), nullable=False),
        pa.field("split", pa.string(), nullable=False),  # "train" | "heldout"
        pa.field("n_tokens", pa.int64(), nullable=False),  # tokens written (a cut remainder is shorter)
        pa.field("repeat_index", pa.int32(), nullable=False),  # 0 = first epoch over the slice
        pa.field("file", pa.string()),  # Megatron prefix name under megatron/ (train rows)
        pa.field("seq_index", pa.int64()),  # sequence number inside that file (train rows)
        pa.field("parent_id", pa.string()),  # the source document of a synthetic one
    ]
)
HELDOUT_SCHEMA = pa.schema(
    [
        pa.field("doc_id", pa.string(), nullable=False),
        pa.field("category", pa.string(), nullable=False),
        pa.field("parent_id", pa.string()),
        pa.field("text", pa.string(), nullable=False),
        pa.field("n_tokens", pa.int64(), nullable=False),
        pa.field("token_ids", pa.list_(pa.int32()), nullable=False),
    ]
)


def megatron_prefix(out_dir: Path, name: str) -> Path:
    """Megatron's naming for a tokenized text field (``tools/preprocess_data.py``)."""
    return out_dir / MEGATRON_DIR / f"{name}_text_document"


@dataclass
class _Pool:
    """One slice's documents after pooling: tokens on disk, a few numbers a document in memory."""

    writer: IndexedDatasetWriter
    heldout: HeldoutSelector
    doc_ids: list[str] = field(default_factory=list)
    parent_ids: list[str | None] = field(default_factory=list)
    ppl: list[float] = field(default_factory=list)
    weight: list[float] = field(default_factory=list)
    group_tokens: Counter = field(default_factory=Counter)
    seen: set[str] = field(default_factory=set)
    data: IndexedDataset | None = None


@dataclass
class _Run:
    """What every step shares: the spec, the stage, the tokenizer and the drop ledger."""

    spec: MixtureSpec
    stage: StageSpec
    tokenizer: object
    eod: int
    dtype: np.dtype
    staging: Path
    out_dir: Path
    drops_writer: PartitionWriter | None
    eval_index: EvalIndex | None
    slice_factors: dict[str, float]
    drops: Counter = field(default_factory=Counter)
    docs_in: int = 0
    timings: dict[str, float] = field(default_factory=dict)
    missing: list[str] = field(default_factory=list)  # spec slices / stage groups without data
    samples: PartitionWriter | None = None

    def drop(self, doc_id: str, slice_name: str, reason: str, detail: str | None = None,
             similarity: float | None = None) -> None:
        self.drops[reason] += 1
        if self.drops_writer is not None:
            row = Drop(str(doc_id), str(slice_name), STAGE, reason, similarity=similarity, detail=detail)
            self.drops_writer.write(drops_to_table([row]))

    @property
    def budget(self) -> int:
        return self.stage.token_budget or self.spec.total_tokens


def _column(batch: pa.RecordBatch | pa.Table, name: str, default=None) -> list:
    if name in batch.schema.names:
        return batch.column(name).to_pylist()
    return [default] * batch.num_rows


def build_mixture(
    sources: Mapping[str, Iterable[pa.RecordBatch | pa.Table]],
    tokenizer,
    spec: MixtureSpec,
    out_dir: str | Path,
    drops_writer: PartitionWriter | None = None,
    stage: StageSpec | None = None,
    eval_index: EvalIndex | None = None,
    slice_factors: Mapping[str, float] | None = None,
) -> dict:
    """Tokenize, hold out, decontaminate, sample and write one stage's mixture; return its stats
    (also in ``mixture_manifest.json``).

    ``sources`` maps a label (e.g. ``rewritten/en_docs``) to record batches with DOC_SCHEMA columns;
    optional columns: ``style``/``parent_id`` (synthetic documents: a rewrite of a held-out document
    is never trained on), ``mixture_slice``, ``lang`` (the group), the spec's ``ppl_column`` and
    ``weight_column``. ``stage``: the curriculum stage (group ratios, budget, ordering); None = one
    stage over the slice weights alone. ``eval_index``: evaluation n-grams (packaged benchmarks,
    evalsets) a training document must not overlap. ``slice_factors``: f_i from ``mixture/weights``.
    """
    out_dir = Path(out_dir).resolve()
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = out_dir.parent / f".{out_dir.name}.staging-{uuid.uuid4().hex[:8]}"
    staging.mkdir()
    run = _Run(spec=spec, stage=stage or single_stage(), tokenizer=tokenizer, eod=resolve_eod(tokenizer, spec.eod_token),
               dtype=dtype_for_vocab(len(tokenizer)), staging=staging, out_dir=out_dir, drops_writer=drops_writer,
               eval_index=eval_index, slice_factors=dict(slice_factors or {}))
    try:
        pools = _pool_documents(run, sources)
        heldout = _choose_heldout(pools)
        candidates = _training_candidates(run, pools, heldout)
        slices = _slice_targets(run, pools, candidates)
        written = _write_training(run, pools, candidates, slices)
        _write_heldout(run, pools, heldout, slices)
        stats = _write_blend_and_manifest(run, pools, heldout, slices, written)
        replace_dir(staging, out_dir)
        return stats
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


# -- step 1: pool -------------------------------------------------------------------------------

def _refusal(run: _Run, name: str, doc_id, text, pools: dict[str, _Pool]) -> tuple[str, str | None] | None:
    """(reason, detail) when a document cannot enter the mixture, else None."""
    if not text or not text.strip():
        return "empty_text", None
    if len(text) > run.spec.max_doc_chars:
        return "doc_too_long", f"{len(text)} chars > max_doc_chars {run.spec.max_doc_chars}"
    if name in pools and doc_id in pools[name].seen:
        return "duplicate_id", None
    if run.spec.decontamination.enabled and run.eval_index is not None:
        match = run.eval_index.match(text)
        if match is not None and match.overlap >= run.spec.decontamination.overlap_bound:
            return "eval_contamination", match.describe()
    return None


def _pool_documents(run: _Run, sources) -> dict[str, _Pool]:
    """Validate every document, file it under its slice and group, tokenize it once into scratch."""
    t0 = time.perf_counter()
    spec, pools = run.spec, {}
    for label, batches in sources.items():
        for batch in batches:
            cols = [_column(batch, c) for c in ("id", "text", "style", "parent_id", "mixture_slice", "lang")]
            categories = _column(batch, "category", label)
            ppls = _column(batch, spec.ppl_column)
            weights = _column(batch, spec.weight_column) if spec.weight_column else [None] * batch.num_rows
            parts = _column(batch, spec.slice_by) if spec.slice_by else [None] * batch.num_rows
            run.docs_in += batch.num_rows
            keep = []
            for (doc_id, text, style, parent, mslice, lang), category, ppl, weight, part in zip(
                zip(*cols), categories, ppls, weights, parts
            ):
                try:
                    name = document_slice(category, style, mslice, part)
                except InvalidCategoryError as exc:
                    run.drop(doc_id, str(category), "invalid_category", str(exc))
                    continue
                refused = _refusal(run, name, doc_id, text, pools)
                if refused is None and weight is not None and not (weight > 0 and math.isfinite(weight)):
                    refused = ("zero_sample_weight", f"{spec.weight_column} = {weight}")
                if refused is not None:
                    run.drop(doc_id, name, *refused)
                    continue
                if name not in pools:
                    selector = HeldoutSelector(spec.heldout_fraction, spec.heldout_min_docs, spec.heldout_max_docs,
                                               spec.seed)
                    pools[name] = _Pool(IndexedDatasetWriter(run.staging / ".pool" / name, run.dtype), selector)
                pools[name].seen.add(doc_id)
                keep.append((doc_id, text, name, parent, document_group(lang, style, parent), ppl, weight))
            encoded = encode_texts(run.tokenizer, [k[1] for k in keep])
            for (doc_id, text, name, parent, group, ppl, weight), ids in zip(keep, encoded):
                tokens = np.concatenate([ids, [run.eod]])
                pool = pools[name]
                pool.heldout.offer(doc_id, (len(pool.doc_ids), text))
                pool.doc_ids.append(doc_id)
                pool.parent_ids.append(parent)
                pool.ppl.append(float(ppl) if ppl is not None and math.isfinite(ppl) else math.inf)
                pool.weight.append(1.0 if weight is None else float(weight))
                pool.group_tokens[group] += len(tokens)
                pool.writer.add_document(tokens)
    for pool in pools.values():
        pool.writer.finalize()
        pool.seen.clear()
        pool.data = IndexedDataset(pool.writer.prefix)
    run.timings["tokenize"] = time.perf_counter() - t0
    return pools


# -- step 2: held out ---------------------------------------------------------------------------

def _choose_heldout(pools: dict[str, _Pool]) -> dict[str, list[tuple[str, tuple[int, str]]]]:
    return {name: pool.heldout.selected() for name, pool in pools.items()}


# -- step 3: training candidates ----------------------------------------------------------------

def _training_candidates(run: _Run, pools: dict[str, _Pool], heldout) -> dict[str, np.ndarray]:
    """Per slice, the documents it may train on: not held out, no rewrite of a held-out document,
    and (decontamination on) no near copy of a held-out text (decoded tokens vs held-out n-grams)."""
    heldout_ids = {doc_id for chosen in heldout.values() for doc_id, _ in chosen}
    cfg = run.spec.decontamination
    heldout_index = None
    if cfg.enabled and cfg.include_heldout and heldout_ids:
        items = [EvalItem("heldout", doc_id, text) for chosen in heldout.values() for doc_id, (_, text) in chosen]
        heldout_index = EvalIndex.build(items, cfg.n)
    candidates = {}
    for name, pool in pools.items():
        own = {i for _, (i, _) in heldout[name]}
        index = []
        for i, (doc_id, parent) in enumerate(zip(pool.doc_ids, pool.parent_ids)):
            if i in own:
                continue
            if doc_id in heldout_ids or (parent is not None and parent in heldout_ids):
                run.drop(doc_id, name, "heldout_relative", "its id or parent_id is held out in another slice")
                continue
            if heldout_index is not None:
                match = heldout_index.match(run.tokenizer.decode(pool.data[i][:-1].tolist()))
                if match is not None and match.overlap >= cfg.overlap_bound:
                    run.drop(doc_id, name, "heldout_contamination", match.describe(), similarity=match.overlap)
                    continue
            index.append(i)
        candidates[name] = np.asarray(index, dtype=np.int64)
    return candidates


# -- step 4: targets ----------------------------------------------------------------------------

def _slice_targets(run: _Run, pools: dict[str, _Pool], candidates: dict[str, np.ndarray]) -> dict[str, dict]:
    """Each slice's group, share and token target: group ratios -> slice shares -> largest remainder."""
    slices: dict[str, dict] = {}
    for name, pool in pools.items():
        group, minority = majority_group(pool.group_tokens)
        available = int(pool.data.sequence_lengths[candidates[name]].sum(dtype=np.int64))
        slices[name] = {"group": group, "minority_group_share": round(minority, 4),
                        "available_docs": len(candidates[name]), "available_tokens": available}
    with_data = {n: s["group"] for n, s in slices.items() if s["available_tokens"] > 0}
    weights = {n: run.spec.weight(n) * run.slice_factors.get(n, 1.0) for n in with_data}
    missing = sorted(n for n, w in run.spec.weights.items() if w > 0 and n not in with_data)
    missing += sorted(f"group:{g}" for g, r in run.stage.ratios.items() if r > 0 and g not in with_data.values())
    if missing and run.spec.on_missing == "error":
        raise MixtureSpecError(f"slices/groups in the spec have no training data: {missing}")
    shares, _ = slice_shares(with_data, weights, run.stage.ratios, run.stage.default_ratio)
    targets = allocate_targets({n: s for n, s in shares.items() if s > 0}, run.budget) if any(shares.values()) else {}
    for name, s in slices.items():
        s.update(weight=run.spec.weight(name), factor=run.slice_factors.get(name, 1.0),
                 target_share=shares.get(name, 0.0), target_tokens=targets.get(name, 0))
    run.missing = missing
    return slices


# -- step 5: training sequences -----------------------------------------------------------------

@dataclass
class _Written:
    train_ids: set[str]
    files: list[str]  # prefix names under megatron/, blend order


def _write_training(run: _Run, pools, candidates, slices) -> _Written:
    t0 = time.perf_counter()
    samples = PartitionWriter(run.staging / SAMPLES_DIR, SAMPLE_SCHEMA)
    plans = {}
    for name in sorted(n for n, s in slices.items() if s["target_tokens"] > 0):
        index = candidates[name]
        lengths = pools[name].data.sequence_lengths[index].astype(np.int64)
        plans[name] = plan_category(name, [pools[name].doc_ids[i] for i in index], lengths,
                                    slices[name]["target_tokens"], run.spec.seed,
                                    weights=[pools[name].weight[i] for i in index])
    # (slice, position in candidates, repeat, tokens taken), grouped by the file each goes to
    per_file: dict[str, list[tuple[str, int, int, int]]] = {}
    for name, plan in plans.items():
        lengths = pools[name].data.sequence_lengths[candidates[name]]
        occurrences = [(name, k, r, t) for k, r, t in plan.occurrences(lengths)]
        per_file.setdefault(ORDERED_FILE if run.stage.ordering == "ppl_ascending" else name, []).extend(occurrences)
    if run.stage.ordering == "ppl_ascending" and ORDERED_FILE in per_file:
        # each pass over the data in perplexity order, low to high (seed 002); ties by a seeded hash
        def key(o):
            doc_id = pools[o[0]].doc_ids[candidates[o[0]][o[1]]]
            return o[2], pools[o[0]].ppl[candidates[o[0]][o[1]]], unit_hash(doc_id, run.spec.seed, "order")
        per_file[ORDERED_FILE].sort(key=key)
    train_ids: set[str] = set()
    for file_name, occurrences in sorted(per_file.items()):
        rows: dict[str, list] = {n: [] for n in SAMPLE_SCHEMA.names}
        with IndexedDatasetWriter(megatron_prefix(run.staging, file_name), run.dtype) as writer:
            for seq, (name, k, repeat, taken) in enumerate(occurrences):
                pool, i = pools[name], int(candidates[name][k])
                writer.add_document(pool.data[i][:taken])
                train_ids.add(pool.doc_ids[i])
                slices[name]["actual_tokens"] = slices[name].get("actual_tokens", 0) + taken
                slices[name]["sequences"] = slices[name].get("sequences", 0) + 1
                values = (pool.doc_ids[i], name, slices[name]["group"], "train", taken, repeat, file_name, seq,
                          pool.parent_ids[i])
                for column, value in zip(SAMPLE_SCHEMA.names, values):
                    rows[column].append(value)
                if len(rows["doc_id"]) >= 50_000:
                    samples.write(pa.table(rows, schema=SAMPLE_SCHEMA))
                    rows = {n: [] for n in SAMPLE_SCHEMA.names}
        samples.write(pa.table(rows, schema=SAMPLE_SCHEMA))
    for name, s in slices.items():
        plan = plans.get(name)
        s.setdefault("actual_tokens", 0)
        s.setdefault("sequences", 0)
        s["repeat_factor"] = round(plan.repeat_factor, 6) if plan else 0.0
        s["full_epochs"] = plan.full_epochs if plan else 0
        s["exceeds_max_repeat"] = bool(plan and plan.repeat_factor > run.spec.max_repeat)
        s["file"] = ORDERED_FILE if run.stage.ordering == "ppl_ascending" and plan else (name if plan else None)
    run.samples = samples
    run.timings["write"] = time.perf_counter() - t0
    return _Written(train_ids, sorted(per_file))


# -- step 6: held-out set -----------------------------------------------------------------------

def _write_heldout(run: _Run, pools, heldout, slices) -> None:
    """Texts for evaluation, token ids for token-level work; one ``heldout`` row each in samples."""
    rows: dict[str, list] = {n: [] for n in HELDOUT_SCHEMA.names}
    sample_rows: dict[str, list] = {n: [] for n in SAMPLE_SCHEMA.names}
    for name in sorted(heldout):
        pool = pools[name]
        for doc_id, (i, text) in heldout[name]:
            tokens = np.asarray(pool.data[i], dtype=np.int32)
            parent = pool.parent_ids[i]
            for column, value in zip(HELDOUT_SCHEMA.names, (doc_id, name, parent, text, len(tokens), tokens)):
                rows[column].append(value)
            values = (doc_id, name, slices[name]["group"], "heldout", len(tokens), 0, None, None, parent)
            for column, value in zip(SAMPLE_SCHEMA.names, values):
                sample_rows[column].append(value)
        slices[name]["heldout_docs"] = len(heldout[name])
        slices[name]["heldout_tokens"] = int(sum(pool.data.sequence_lengths[i] for _, (i, _) in heldout[name]))
    run.samples.write(pa.table(sample_rows, schema=SAMPLE_SCHEMA))
    run.samples.commit()
    pq.write_table(pa.table(rows, schema=HELDOUT_SCHEMA), run.staging / HELDOUT_NAME, compression="zstd")


# -- step 7: blend and manifest -----------------------------------------------------------------

def _write_blend_and_manifest(run: _Run, pools, heldout, slices, written: _Written) -> dict:
    for pool in pools.values():
        pool.data = None
    shutil.rmtree(run.staging / ".pool", ignore_errors=True)
    total = sum(s["actual_tokens"] for s in slices.values())
    groups: dict[str, float] = Counter()
    for s in slices.values():
        s["actual_share"] = s["actual_tokens"] / total if total else 0.0
        groups[s["group"]] += s["actual_share"]
    file_tokens = {f: sum(s["actual_tokens"] for s in slices.values() if s["file"] == f) for f in written.files}
    write_blend_file(run.staging / BLEND_NAME, [(file_tokens[f] / total if total else 0.0,
                                                 megatron_prefix(run.out_dir, f)) for f in written.files])
    heldout_ids = {doc_id for chosen in heldout.values() for doc_id, _ in chosen}
    tokenize_tokens = sum(int(p.writer.num_tokens) for p in pools.values())
    stats = {
        "stage": run.stage.name,
        "ordering": run.stage.ordering,
        "group_ratios": run.stage.ratios,
        "docs_in": run.docs_in,
        "docs_out": len(written.train_ids),
        "drops_by_reason": dict(run.drops),
        "total_tokens": total,
        "budget_tokens": run.budget,
        "categories": slices,
        "group_shares": dict(groups),
        "missing_categories": run.missing,
        "heldout_docs": len(heldout_ids),
        "tolerance": run.spec.tolerance,
        "seq_len": run.spec.seq_len,
        "token_dtype": str(run.dtype),
        "eod_token_id": run.eod,
        "eod_token": run.tokenizer.convert_ids_to_tokens(run.eod),
        "tokenizer": str(getattr(run.tokenizer, "name_or_path", "")),
        "timings_s": {k: round(v, 3) for k, v in run.timings.items()},
        "tokenize_tokens_per_s": round(tokenize_tokens / run.timings["tokenize"], 1) if run.timings["tokenize"] else 0,
        "blend_path": str(run.out_dir / BLEND_NAME),
        "heldout_path": str(run.out_dir / HELDOUT_NAME),
        "samples_path": str(run.out_dir / SAMPLES_DIR),
        "manifest_path": str(run.out_dir / MANIFEST_NAME),
        "megatron_prefixes": {f: str(megatron_prefix(run.out_dir, f)) for f in written.files},
    }
    files = {
        f: {"idx_sha256": file_sha256(idx_path(megatron_prefix(run.staging, f))),
            "bin_bytes": bin_path(megatron_prefix(run.staging, f)).stat().st_size}
        for f in written.files
    }
    manifest = {"spec": run.spec.to_dict(), "spec_source": run.spec.source, "stage": run.stage.to_dict(),
                "slice_factors": run.slice_factors, "stats": stats, "files": files}
    (run.staging / MANIFEST_NAME).write_text(json.dumps(manifest, indent=2, sort_keys=True, default=str),
                                             encoding="utf-8")
    return stats


def read_manifest(mixture_dir: str | Path) -> dict:
    return json.loads((Path(mixture_dir) / MANIFEST_NAME).read_text(encoding="utf-8"))


def read_heldout_texts(mixture_dir: str | Path) -> dict[str, list[str]]:
    """Held-out texts by slice, in a stable order: the input of ``heldout_perplexity``."""
    table = pq.read_table(Path(mixture_dir) / HELDOUT_NAME, columns=["doc_id", "category", "text"])
    texts: dict[str, list[str]] = {}
    for row in sorted(table.to_pylist(), key=lambda r: (r["category"], r["doc_id"])):
        texts.setdefault(row["category"], []).append(row["text"])
    return texts
