"""The ``rewritten`` stage: select documents, rewrite them chunk by chunk in each style, validate, retry, write.

Synthetic documents get a new id (``<parent id>~<style>``), ``parent_id``, ``style`` and
``model``; they inherit the parent's other columns (category, provenance, quality bucket)
so lineage stays queryable. Originals pass through unchanged when ``keep_originals``.
Memory is bounded by one input batch: each batch is selected, generated and written
before the next is read.
"""

import json
import re
import statistics
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import pyarrow as pa

from curation.document import Drop, drops_to_table, validate_category
from curation.hashing import unit_hash
from curation.lake import PartitionWriter
from curation.lm.generation import LLMBackend
from curation.rewrite.cache import GenerationCache, generation_key
from curation.rewrite.config import RewriteConfig
from curation.rewrite.prompts import PromptTemplate, load_templates
from curation.rewrite.validate import detect_language, validate_generation

STAGE = "rewritten"
SYNTHETIC_COLUMNS = ("parent_id", "style", "model")
INPUT_TOO_LONG = "input_too_long"
_SENTENCE_END = re.compile(r"(?<=[.!?。！？；;])\s*")


def output_schema(input_schema: pa.Schema) -> pa.Schema:
    """The input's columns plus ``parent_id``, ``style``, ``model`` (null on originals)."""
    schema = input_schema
    for name in SYNTHETIC_COLUMNS:
        if schema.get_field_index(name) < 0:
            schema = schema.append(pa.field(name, pa.string()))
    return schema


def synthetic_doc_id(parent_id: str, style: str) -> str:
    return f"{parent_id}~{style}"


def chunk_text(text: str, budget_tokens: int, count_tokens: Callable[[str], int]) -> list[str]:
    """Split ``text`` into pieces of at most ``budget_tokens``, on paragraph then sentence boundaries.

    A single sentence over budget is cut by characters at the text's own chars-per-token rate.
    """
    pieces: list[tuple[str, int]] = []
    for paragraph in (p.strip() for p in re.split(r"\n\s*\n", text)):
        if not paragraph:
            continue
        n = count_tokens(paragraph)
        if n <= budget_tokens:
            pieces.append((paragraph, n))
            continue
        for sentence in (s for s in _SENTENCE_END.split(paragraph) if s.strip()):
            n = count_tokens(sentence)
            if n <= budget_tokens:
                pieces.append((sentence, n))
                continue
            step = max(1, int(len(sentence) * budget_tokens / n * 0.9))
            for lo in range(0, len(sentence), step):
                part = sentence[lo : lo + step]
                pieces.append((part, count_tokens(part)))
    chunks: list[str] = []
    current: list[str] = []
    used = 0
    for piece, n in pieces:
        if current and used + n > budget_tokens:
            chunks.append("\n\n".join(current))
            current, used = [], 0
        current.append(piece)
        used += n
    if current:
        chunks.append("\n\n".join(current))
    return chunks


@dataclass
class _Job:
    """One document in one style: its chunks, and the accepted output of each (None until accepted)."""

    row: dict
    style: str
    language: str
    chunks: list[str]
    outputs: list[str | None]
    last_reason: dict[int, str] = field(default_factory=dict)
    attempts: int = 0


@dataclass
class _Stats:
    docs_in: int = 0
    docs_out: int = 0
    docs_selected: int = 0
    synthetic_docs: int = 0
    chunks: int = 0
    generated: int = 0
    cache_hits: int = 0
    retries: int = 0
    skipped: Counter = field(default_factory=Counter)
    drops: Counter = field(default_factory=Counter)
    failures: Counter = field(default_factory=Counter)
    by_style: Counter = field(default_factory=Counter)
    length_ratios: list[float] = field(default_factory=list)
    generation_s: float = 0.0


def _hash_fraction(doc_id: str) -> float:
    return unit_hash(doc_id)


class _Selector:
    """Decides per document whether it is rewritten; the reason it is not is counted."""

    def __init__(self, config: RewriteConfig, schema: pa.Schema):
        self.sel = config.selection
        if self.sel.column is not None and schema.get_field_index(self.sel.column) < 0:
            raise ValueError(
                f"selection column {self.sel.column!r} is not in the input (columns: {schema.names}); "
                "run the scoring stage first or set selection.column to null"
            )
        self.taken = 0

    def reason_to_skip(self, row: dict) -> str | None:
        sel = self.sel
        text = row.get("text") or ""
        if not text.strip():
            return "empty_text"
        if len(text) < sel.min_chars:
            return "too_short"
        if sel.max_chars is not None and len(text) > sel.max_chars:
            return "too_long_for_budget"
        if sel.column is not None and str(row.get(sel.column)) not in sel.values:
            return f"not_{sel.column}_in_{'|'.join(sel.values)}"
        if _hash_fraction(row["id"]) >= sel.sample_rate:
            return "sampled_out"
        if sel.max_docs_per_category is not None and self.taken >= sel.max_docs_per_category:
            return "over_max_docs_per_category"
        self.taken += 1
        return None


def _chunk_budget(config: RewriteConfig, backend: LLMBackend, templates: dict[str, PromptTemplate]) -> int:
    overhead = max(backend.count_tokens((t.system or "") + t.render("")) for t in templates.values())
    room = backend.context_length - config.max_new_tokens - overhead - 16  # 16: chat-template markup
    if room < 16:
        raise ValueError(
            f"model context {backend.context_length} leaves no room for input after max_new_tokens="
            f"{config.max_new_tokens} and a {overhead}-token prompt; lower max_new_tokens"
        )
    return min(config.chunk_tokens, room)


def _generate_round(
    jobs: list[_Job],
    attempt: int,
    templates: dict[str, PromptTemplate],
    backend: LLMBackend,
    cache: GenerationCache,
    config: RewriteConfig,
    stats: _Stats,
) -> None:
    """One attempt at every chunk still without an accepted output: cache first, then the backend."""
    params = {"max_new_tokens": config.max_new_tokens, "temperature": config.temperature, "seed": config.seed + attempt}
    pending = [(job, i) for job in jobs for i, out in enumerate(job.outputs) if out is None]
    if attempt > 0:
        stats.retries += len(pending)
    keys = [
        generation_key(backend.fingerprint, templates[job.style].digest, job.chunks[i], params) for job, i in pending
    ]
    found = cache.get_many(keys)
    stats.cache_hits += sum(k in found for k in keys)
    for style, template in templates.items():
        # a dict: identical chunks (boilerplate repeated across documents) are generated once
        todo = list(
            {
                key: job.chunks[i]
                for key, (job, i) in zip(keys, pending, strict=True)
                if job.style == style and key not in found
            }.items()
        )
        if not todo:
            continue
        start = time.perf_counter()
        outputs = backend.generate(
            [template.render(chunk) for _, chunk in todo],
            max_new_tokens=config.max_new_tokens,
            temperature=config.temperature,
            seed=params["seed"],
            system=template.system,
        )
        stats.generation_s += time.perf_counter() - start
        stats.generated += len(todo)
        cache.put_many([(key, out, backend.model_id, style) for (key, _), out in zip(todo, outputs, strict=True)])
        found.update((key, out) for (key, _), out in zip(todo, outputs, strict=True))
    for key, (job, i) in zip(keys, pending, strict=True):
        template = templates[job.style]
        output = template.clean_output(found[key])
        reason = validate_generation(output, job.chunks[i], job.language, template, config.validation)
        job.attempts = attempt + 1
        if reason is None:
            job.outputs[i] = output
            job.last_reason.pop(i, None)
        else:
            job.last_reason[i] = reason
            stats.failures[reason] += 1


def rewrite_partition(
    batches: Iterable[pa.RecordBatch],
    category: str,
    backend: LLMBackend,
    config: RewriteConfig,
    cache: GenerationCache,
    out: PartitionWriter,
    drops_out: PartitionWriter,
) -> dict:
    """Rewrite one category partition; returns the stats shown on the materialization."""
    validate_category(category)
    templates = load_templates(config.prompts_dir, config.styles)
    budget = _chunk_budget(config, backend, templates)
    stats = _Stats()
    selector: _Selector | None = None
    wall = time.perf_counter()
    hits_before = cache.hits
    for batch in batches:
        if selector is None:
            selector = _Selector(config, batch.schema)
        rows = batch.to_pylist()
        stats.docs_in += len(rows)
        jobs, drops = _plan_jobs(rows, selector, templates, budget, backend, config, category, stats)
        for attempt in range(config.max_attempts if config.temperature > 0 else 1):
            if all(None not in job.outputs for job in jobs):
                break
            _generate_round(jobs, attempt, templates, backend, cache, config, stats)
        kept = [_passthrough(row) for row in rows] if config.keep_originals else []
        for job in jobs:
            if None in job.outputs:
                reason = next(iter(job.last_reason.values()))
                drops.append(
                    _drop(
                        job,
                        category,
                        reason,
                        config,
                        f"attempts={job.attempts}; chunks failing: {sorted(job.last_reason)} of {len(job.chunks)}",
                    )
                )
                continue
            kept.append(_synthetic(job, backend.model_id))
            stats.synthetic_docs += 1
            stats.by_style[job.style] += 1
            src = sum(len(c) for c in job.chunks)
            stats.length_ratios.append(len(kept[-1]["text"]) / max(1, src))
        if kept:
            out.write(pa.Table.from_pylist(kept, schema=out.schema))
            stats.docs_out += len(kept)
        if drops:
            drops_out.write(drops_to_table(drops))
            stats.drops.update(d.reason for d in drops)
    return _summary(stats, config, backend, time.perf_counter() - wall, cache.hits - hits_before)


def _plan_jobs(rows, selector, templates, budget, backend, config, category, stats) -> tuple[list[_Job], list[Drop]]:
    jobs: list[_Job] = []
    drops: list[Drop] = []
    for row in rows:
        skip = selector.reason_to_skip(row)
        if skip is not None:
            stats.skipped[skip] += 1
            continue
        stats.docs_selected += 1
        language = detect_language(row["text"])
        chunks: list[str] | None = None
        for style, template in templates.items():
            if not template.accepts_language(language):
                stats.skipped[f"language_{language}_not_for_{style}"] += 1
                continue
            chunks = chunks or chunk_text(row["text"], budget, backend.count_tokens)
            job = _Job(row=row, style=style, language=language, chunks=chunks, outputs=[None] * len(chunks))
            if len(chunks) > config.max_chunks_per_doc:
                drops.append(
                    _drop(
                        job,
                        category,
                        INPUT_TOO_LONG,
                        config,
                        f"{len(chunks)} chunks of <= {budget} tokens > max_chunks_per_doc={config.max_chunks_per_doc}",
                    )
                )
                continue
            stats.chunks += len(chunks)
            jobs.append(job)
    return jobs, drops


def _drop(job: _Job, category: str, reason: str, config: RewriteConfig, detail: str) -> Drop:
    return Drop(
        doc_id=synthetic_doc_id(job.row["id"], job.style),
        category=category,
        stage=STAGE,
        reason=reason,
        detail=f"parent={job.row['id']}; style={job.style}; {detail}",
        param_version=config.version,
    )


def _passthrough(row: dict) -> dict:
    return {**row, **{name: row.get(name) for name in SYNTHETIC_COLUMNS}}


def _synthetic(job: _Job, model_id: str) -> dict:
    parent = job.row
    meta = json.loads(parent["meta"]) if parent.get("meta") else {}
    meta["rewrite"] = {"chunks": len(job.chunks), "attempts": job.attempts, "language": job.language}
    return {
        **parent,
        "id": synthetic_doc_id(parent["id"], job.style),
        "text": "\n\n".join(job.outputs),
        "meta": json.dumps(meta, ensure_ascii=False),
        "parent_id": parent["id"],
        "style": job.style,
        "model": model_id,
    }


def _summary(stats: _Stats, config: RewriteConfig, backend: LLMBackend, wall_s: float, cache_hits: int) -> dict:
    counters = backend.counters.as_dict() if hasattr(backend, "counters") else {}
    ratios = sorted(stats.length_ratios)
    return {
        "docs_in": stats.docs_in,
        "docs_out": stats.docs_out,
        "drops_by_reason": dict(stats.drops),
        "docs_selected": stats.docs_selected,
        "skipped_by_reason": dict(stats.skipped),
        "synthetic_docs": stats.synthetic_docs,
        "synthetic_by_style": dict(stats.by_style),
        "chunks": stats.chunks,
        "generated": stats.generated,
        "cache_hits": cache_hits,
        "retries": stats.retries,
        "validation_failures_by_reason": dict(stats.failures),
        "length_ratio_p50": round(statistics.median(ratios), 3) if ratios else None,
        "length_ratio_min": round(ratios[0], 3) if ratios else None,
        "length_ratio_max": round(ratios[-1], 3) if ratios else None,
        "generation_s": round(stats.generation_s, 3),
        "new_tokens": counters.get("new_tokens"),
        "new_tokens_per_s": counters.get("new_tokens_per_s"),
        "wall_s": round(wall_s, 3),
        "model": backend.model_id,
        "backend": type(backend).__name__,
        "param_version": config.version,
    }
