"""``build_mixture``: curated categories -> one token-budgeted, held-out-safe training mixture.

Output folder (swapped in atomically, a re-run replaces it whole)::

    megatron/<category>_text_document.{bin,idx}   training tokens, one Megatron indexed dataset a category
    blend.txt                                      "weight prefix" pairs for Megatron --data-path / FlagScale
    samples/part-*.parquet                         doc_id, category, split, n_tokens, repeat_index: one row
                                                   per written sequence (train) and per held-out document
    heldout.parquet                                held-out documents: id, category, text, token ids
    mixture_manifest.json                          spec, tokenizer, stats and file hashes (training cites it)

Two passes, memory bounded by a batch plus a few integers per document: pass 1 tokenizes every
document once into a scratch indexed dataset per category and picks the held-out set; pass 2
copies the sampled documents (repeated or subsampled) into the final per-category datasets.
"""

import json
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

from curation.document import Drop, InvalidCategoryError, drops_to_table, validate_category
from curation.hashing import file_sha256
from curation.lake import PartitionWriter, replace_dir
from curation.mixture.megatron import (
    IndexedDataset,
    IndexedDatasetWriter,
    bin_path,
    dtype_for_vocab,
    idx_path,
    write_blend_file,
)
from curation.mixture.sampler import HeldoutSelector, allocate_targets, plan_category
from curation.mixture.spec import MixtureSpec, MixtureSpecError, synthetic_category
from curation.mixture.tokens import encode_documents, eos_token_id

STAGE = "mixed"
MANIFEST_NAME = "mixture_manifest.json"
BLEND_NAME = "blend.txt"
HELDOUT_NAME = "heldout.parquet"
SAMPLES_DIR = "samples"
MEGATRON_DIR = "megatron"

SAMPLE_SCHEMA = pa.schema(
    [
        pa.field("doc_id", pa.string(), nullable=False),
        pa.field("category", pa.string(), nullable=False),
        pa.field("split", pa.string(), nullable=False),  # "train" | "heldout"
        pa.field("n_tokens", pa.int64(), nullable=False),  # tokens written (a cut remainder is shorter)
        pa.field("repeat_index", pa.int32(), nullable=False),  # 0 = first epoch over the category
    ]
)
HELDOUT_SCHEMA = pa.schema(
    [
        pa.field("doc_id", pa.string(), nullable=False),
        pa.field("category", pa.string(), nullable=False),
        pa.field("text", pa.string(), nullable=False),
        pa.field("n_tokens", pa.int64(), nullable=False),
        pa.field("token_ids", pa.list_(pa.int32()), nullable=False),
    ]
)


def megatron_prefix(out_dir: Path, category: str) -> Path:
    """Megatron's naming for a tokenized text field (``tools/preprocess_data.py``)."""
    return out_dir / MEGATRON_DIR / f"{category}_text_document"


@dataclass
class _Pool:
    """One category's documents after pass 1: tokens on disk, a few numbers a document in memory."""

    writer: IndexedDatasetWriter
    heldout: HeldoutSelector
    doc_ids: list[str] = field(default_factory=list)
    parent_ids: list[str | None] = field(default_factory=list)
    seen: set[str] = field(default_factory=set)


def _column(batch: pa.RecordBatch | pa.Table, name: str, default=None) -> list:
    if name in batch.schema.names:
        return batch.column(name).to_pylist()
    return [default] * batch.num_rows


def _mixture_category(category: str, style: str | None) -> str:
    """Rewritten documents (a non-empty ``style``) form their own slice, seed-000 naming."""
    return synthetic_category(category, style) if style else validate_category(category)


_sha256 = file_sha256  # the one file hasher (curation/hashing.py)


def build_mixture(
    sources: Mapping[str, Iterable[pa.RecordBatch | pa.Table]],
    tokenizer,
    spec: MixtureSpec,
    out_dir: str | Path,
    drops_writer: PartitionWriter | None = None,
) -> dict:
    """Tokenize, hold out, sample and write the mixture; return stats (also in ``mixture_manifest.json``).

    ``sources`` maps a label (e.g. a stage/partition) to record batches with DOC_SCHEMA columns; a
    ``style`` column marks rewritten documents, a ``parent_id`` column links a rewrite to its source
    (a rewrite of a held-out document is never trained on). The category of each document is its
    ``category`` column (the label when absent), ``<category>-synthetic-<style>`` for rewrites.
    """
    out_dir = Path(out_dir).resolve()
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = out_dir.parent / f".{out_dir.name}.staging-{uuid.uuid4().hex[:8]}"
    staging.mkdir()
    try:
        stats = _build(sources, tokenizer, spec, out_dir, staging, drops_writer)
        replace_dir(staging, out_dir)
        return stats
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def _build(sources, tokenizer, spec: MixtureSpec, out_dir: Path, staging: Path, drops_writer) -> dict:
    t0 = time.perf_counter()
    eos = eos_token_id(tokenizer)
    dtype = dtype_for_vocab(len(tokenizer))
    drops: Counter[str] = Counter()
    docs_in = 0
    pools: dict[str, _Pool] = {}

    def drop(doc_id: str, category: str, reason: str, detail: str | None = None) -> None:
        drops[reason] += 1
        if drops_writer is not None:
            drops_writer.write(drops_to_table([Drop(doc_id, category, STAGE, reason, detail=detail)]))

    # pass 1: tokenize once into scratch datasets, choose held-out documents
    for label, batches in sources.items():
        for batch in batches:
            ids, texts = _column(batch, "id"), _column(batch, "text")
            categories = _column(batch, "category", label)
            styles, parents = _column(batch, "style"), _column(batch, "parent_id")
            docs_in += batch.num_rows
            keep: list[tuple[str, str, str, str | None]] = []
            for doc_id, text, category, style, parent in zip(ids, texts, categories, styles, parents):
                try:
                    name = _mixture_category(category, style)
                except InvalidCategoryError as exc:
                    drop(str(doc_id), str(category), "invalid_category", str(exc))
                    continue
                if name not in spec.weights:
                    drop(doc_id, name, "category_not_in_mixture")
                elif not text or not text.strip():
                    drop(doc_id, name, "empty_text")
                elif len(text) > spec.max_doc_chars:
                    drop(doc_id, name, "doc_too_long", f"{len(text)} chars > max_doc_chars {spec.max_doc_chars}")
                elif name in pools and doc_id in pools[name].seen:
                    drop(doc_id, name, "duplicate_id")
                else:
                    pool = pools.get(name)
                    if pool is None:
                        writer = IndexedDatasetWriter(staging / ".pool" / name, dtype)
                        selector = HeldoutSelector(
                            spec.heldout_fraction, spec.heldout_min_docs, spec.heldout_max_docs, spec.seed
                        )
                        pool = pools[name] = _Pool(writer, selector)
                    pool.seen.add(doc_id)
                    keep.append((doc_id, text, name, parent))
            for (doc_id, text, name, parent), tokens in zip(keep, encode_documents(tokenizer, [k[1] for k in keep])):
                pool = pools[name]
                pool.heldout.offer(doc_id, (len(pool.doc_ids), text))
                pool.doc_ids.append(doc_id)
                pool.parent_ids.append(parent)
                pool.writer.add_document(tokens)
    tokenize_s = time.perf_counter() - t0
    for pool in pools.values():
        pool.writer.finalize()
        pool.seen.clear()

    heldout = {name: pool.heldout.selected() for name, pool in pools.items()}
    heldout_ids = {doc_id for chosen in heldout.values() for doc_id, _ in chosen}

    # which documents each category may train on, and how many tokens that is
    train_index: dict[str, np.ndarray] = {}
    available: dict[str, int] = {}
    scratch: dict[str, IndexedDataset] = {}
    for name, pool in pools.items():
        scratch[name] = IndexedDataset(staging / ".pool" / name)
        own = {i for _, (i, _) in heldout[name]}
        index = []
        for i, (doc_id, parent) in enumerate(zip(pool.doc_ids, pool.parent_ids)):
            if i in own:
                continue
            if doc_id in heldout_ids or (parent is not None and parent in heldout_ids):
                drop(doc_id, name, "heldout_relative", "its id or parent_id is held out in another category")
                continue
            index.append(i)
        train_index[name] = np.asarray(index, dtype=np.int64)
        available[name] = int(scratch[name].sequence_lengths[train_index[name]].sum(dtype=np.int64))

    missing = sorted(c for c, w in spec.weights.items() if w > 0 and available.get(c, 0) == 0)
    if missing and spec.on_missing == "error":
        raise MixtureSpecError(f"categories in the mixture spec have no training data: {missing}")
    spec_shares = spec.shares()
    target_shares = spec.shares({c for c in spec.weights if available.get(c, 0) > 0})
    targets = allocate_targets(target_shares, spec.total_tokens)

    # pass 2: write the sampled documents, category by category
    t1 = time.perf_counter()
    samples = PartitionWriter(staging / SAMPLES_DIR, SAMPLE_SCHEMA)
    categories: dict[str, dict] = {}
    train_ids: set[str] = set()
    for name in sorted(targets):
        pool, data, index = pools[name], scratch[name], train_index[name]
        lengths = data.sequence_lengths[index].astype(np.int64)
        plan = plan_category(name, [pool.doc_ids[i] for i in index], lengths, targets[name], spec.seed)
        rows: dict[str, list] = {n: [] for n in SAMPLE_SCHEMA.names}
        selected = set()
        with IndexedDatasetWriter(megatron_prefix(staging, name), dtype) as writer:
            for k, repeat, taken in plan.occurrences(lengths):
                doc_id = pool.doc_ids[index[k]]
                writer.add_document(data[int(index[k])][:taken])
                selected.add(doc_id)
                for column, value in zip(SAMPLE_SCHEMA.names, (doc_id, name, "train", taken, repeat)):
                    rows[column].append(value)
                if len(rows["doc_id"]) >= 50_000:
                    samples.write(pa.table(rows, schema=SAMPLE_SCHEMA))
                    rows = {n: [] for n in SAMPLE_SCHEMA.names}
            actual = writer.num_tokens
            sequences = len(writer)
        samples.write(pa.table(rows, schema=SAMPLE_SCHEMA))
        train_ids |= selected
        categories[name] = {
            "available_docs": len(index),
            "available_tokens": plan.available_tokens,
            "spec_share": spec_shares[name],
            "target_share": target_shares[name],
            "target_tokens": plan.target_tokens,
            "actual_tokens": int(actual),
            "repeat_factor": round(plan.repeat_factor, 6),
            "full_epochs": plan.full_epochs,
            "exceeds_max_repeat": plan.repeat_factor > spec.max_repeat,
            "train_docs_selected": len(selected),
            "sequences": sequences,
        }
    write_s = time.perf_counter() - t1

    # held-out documents: texts for evaluation, token ids for token-level work
    heldout_rows: dict[str, list] = {n: [] for n in HELDOUT_SCHEMA.names}
    for name in sorted(heldout):
        for doc_id, (i, text) in heldout[name]:
            tokens = np.asarray(scratch[name][i], dtype=np.int32)
            for column, value in zip(HELDOUT_SCHEMA.names, (doc_id, name, text, len(tokens), tokens)):
                heldout_rows[column].append(value)
        categories.setdefault(name, _empty_category(len(train_index[name]), available[name], spec_shares[name]))
        categories[name]["heldout_docs"] = len(heldout[name])
        categories[name]["heldout_tokens"] = int(sum(scratch[name].sequence_lengths[i] for _, (i, _) in heldout[name]))
    n_heldout = len(heldout_rows["doc_id"])
    samples.write(
        pa.table(
            {
                "doc_id": heldout_rows["doc_id"],
                "category": heldout_rows["category"],
                "split": ["heldout"] * n_heldout,
                "n_tokens": heldout_rows["n_tokens"],
                "repeat_index": [0] * n_heldout,
            },
            schema=SAMPLE_SCHEMA,
        )
    )
    samples.commit()
    pq.write_table(pa.table(heldout_rows, schema=HELDOUT_SCHEMA), staging / HELDOUT_NAME, compression="zstd")
    del scratch
    shutil.rmtree(staging / ".pool", ignore_errors=True)

    total = sum(c["actual_tokens"] for c in categories.values())
    for c in categories.values():
        c["actual_share"] = c["actual_tokens"] / total if total else 0.0
    written = [c for c in sorted(categories) if categories[c]["actual_tokens"] > 0]
    write_blend_file(
        staging / BLEND_NAME, [(categories[c]["actual_share"], megatron_prefix(out_dir, c)) for c in written]
    )

    stats = {
        "docs_in": docs_in,
        "docs_out": len(train_ids),
        "drops_by_reason": dict(drops),
        "total_tokens": total,
        "budget_tokens": spec.total_tokens,
        "categories": categories,
        "missing_categories": missing,
        "heldout_docs": len(heldout_ids),
        "heldout_ids_in_train": len(heldout_ids & train_ids),
        "tolerance": spec.tolerance,
        "seq_len": spec.seq_len,
        "token_dtype": str(dtype),
        "eos_token_id": eos,
        "tokenizer": str(getattr(tokenizer, "name_or_path", "")),
        "timings_s": {"tokenize": round(tokenize_s, 3), "write": round(write_s, 3)},
        "tokenize_tokens_per_s": round(_tokens_per_s(pools, tokenize_s), 1),
        "blend_path": str(out_dir / BLEND_NAME),
        "heldout_path": str(out_dir / HELDOUT_NAME),
        "samples_path": str(out_dir / SAMPLES_DIR),
        "manifest_path": str(out_dir / MANIFEST_NAME),
        "megatron_prefixes": {c: str(megatron_prefix(out_dir, c)) for c in written},
    }
    files = {
        c: {
            "idx_sha256": _sha256(idx_path(megatron_prefix(staging, c))),
            "bin_bytes": bin_path(megatron_prefix(staging, c)).stat().st_size,
        }
        for c in written
    }
    manifest = {"spec": spec.to_dict(), "spec_source": spec.source, "stats": stats, "files": files}
    (staging / MANIFEST_NAME).write_text(json.dumps(manifest, indent=2, sort_keys=True), encoding="utf-8")
    return stats


def _empty_category(available_docs: int, available_tokens: int, spec_share: float) -> dict:
    """Figures of a category that got no training target (weight 0)."""
    return {
        "available_docs": available_docs,
        "available_tokens": available_tokens,
        "spec_share": spec_share,
        "target_share": 0.0,
        "target_tokens": 0,
        "actual_tokens": 0,
        "repeat_factor": 0.0,
        "full_epochs": 0,
        "exceeds_max_repeat": False,
        "train_docs_selected": 0,
        "sequences": 0,
    }


def _tokens_per_s(pools: dict[str, _Pool], seconds: float) -> float:
    tokens = sum(pool.writer.num_tokens for pool in pools.values())
    return tokens / seconds if seconds > 0 else 0.0


def share_violations(stats: dict) -> list[str]:
    """What an asset check reports: categories whose actual share is off target by more than the
    tolerance, and any held-out document that reached training. Empty when the mixture is sound."""
    problems = [
        f"{name}: actual share {c['actual_share']:.4f} vs target {c['target_share']:.4f}"
        for name, c in sorted(stats["categories"].items())
        if abs(c["actual_share"] - c["target_share"]) > stats["tolerance"]
    ]
    if stats["heldout_ids_in_train"]:
        problems.append(f"{stats['heldout_ids_in_train']} held-out documents are in the training split")
    return problems


def read_heldout_texts(mixture_dir: str | Path) -> dict[str, list[str]]:
    """Held-out texts by category, in a stable order: the input of ``heldout_perplexity``."""
    table = pq.read_table(Path(mixture_dir) / HELDOUT_NAME, columns=["doc_id", "category", "text"])
    texts: dict[str, list[str]] = {}
    for row in sorted(table.to_pylist(), key=lambda r: (r["category"], r["doc_id"])):
        texts.setdefault(row["category"], []).append(row["text"])
    return texts
