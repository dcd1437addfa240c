"""The ``rewritten`` stage: plan jobs, rewrite chunk by chunk in rounds, validate, retry, write.

Each round sends every active job's next chunk to the backend in one batched call (vLLM: one
``LLM.generate``). A chunk after the first carries the tail of the text already rewritten for
its document (Kimi K2's autoregressive chunked rewriting, seed 003). A failed chunk is retried
with a new seed up to ``max_attempts``; then the job is dropped with its last reason.

Synthetic documents get a new id (``<parent id>~<style>``), ``parent_id``, ``style``, ``model``,
``mixture_slice`` (seed 000 naming ``<category>-synthetic-<style>-<bucket>``) and a JSON
``rewrite_provenance``; they inherit the parent's other columns. Originals pass through when
``keep_originals``. Memory is bounded by one input batch.
"""

import json
import statistics
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

import pyarrow as pa

from curation.document import Drop, drops_to_table, validate_category
from curation.lake import PartitionWriter
from curation.lm.generation import GenerationRequest, LLMBackend, Sampling
from curation.rewrite.cache import GenerationCache, generate_cached
from curation.rewrite.chunking import tail
from curation.rewrite.config import RewriteConfig
from curation.rewrite.kinds import PROSE
from curation.rewrite.plan import Job, Planner
from curation.rewrite.postprocess import questions, render_qa
from curation.rewrite.prompts import PromptTemplate, QATwoPass, load_templates
from curation.rewrite.validate import validate_generation

STAGE = "rewritten"
SYNTHETIC_COLUMNS = ("parent_id", "style", "model", "mixture_slice", "rewrite_provenance")
CHAT_MARKUP_TOKENS = 16  # room for the chat template's role markers around a prompt
# a QATwoPass answer is its first non-empty line: a stop at "\n" alone ends a reply that opens with a line
# break (SmolLM2-135M did, in 3 of 12 demo answers) before it has said anything
ANSWER_STOP = "\nQuestion"
MAX_QUESTION_CHARS = 200  # room for the question in a QATwoPass answer prompt (our bound)


def output_schema(input_schema: pa.Schema) -> pa.Schema:
    """The input's columns plus the synthetic columns (null on originals)."""
    schema = input_schema
    for name in SYNTHETIC_COLUMNS:
        if schema.get_field_index(name) < 0:
            schema = schema.append(pa.field(name, pa.string()))
    return schema


def synthetic_doc_id(parent_id: str, label: str) -> str:
    return f"{parent_id}~{label}"


def mixture_slice(category: str, label: str, bucket: str) -> str:
    """Seed 000's synthetic slice name, e.g. ``Nemotron-CC-high-synthetic-distill-high``."""
    return validate_category(f"{category}-synthetic-{label}-{bucket}")


@dataclass
class _Stats:
    docs_in: int = 0
    docs_out: int = 0
    synthetic_docs: int = 0
    chunks: int = 0
    generated: int = 0
    validated: int = 0
    cache_hits: int = 0
    retries: int = 0
    rounds: int = 0
    drops: Counter = field(default_factory=Counter)
    failures: Counter = field(default_factory=Counter)
    attempted_by_style: Counter = field(default_factory=Counter)
    by_style: Counter = field(default_factory=Counter)
    by_slice: Counter = field(default_factory=Counter)
    failures_by_style: Counter = field(default_factory=Counter)  # (style, reason)
    drops_by_style: Counter = field(default_factory=Counter)  # (style, reason)
    refused_by_style: Counter = field(default_factory=Counter)  # gated before generation
    length_ratios: list[float] = field(default_factory=list)
    generation_s: float = 0.0
    qa_questions: int = 0  # QATwoPass: questions parsed from pass 1
    qa_answered: int = 0  # ... and given a non-empty answer in pass 2


def chunk_budget(config: RewriteConfig, backend: LLMBackend, templates: dict[str, PromptTemplate]) -> int:
    """Source tokens per chunk: the model's window minus the longest prompt, carried context and output."""
    slots = {name: "x" * 40 for t in templates.values() for name in t.slots}
    overhead = max(
        backend.count_tokens((t.system or "") + prompt)
        for t in templates.values()
        for prompt in _budget_prompts(t, {k: slots[k] for k in t.slots})
    )
    longest_output = max(config.sampling_for(style).max_new_tokens for style in templates)
    carried = config.chunking.context_tokens + config.chunking.overlap_tokens
    room = backend.context_length - longest_output - overhead - carried - CHAT_MARKUP_TOKENS
    if room < 16:
        raise ValueError(
            f"model context {backend.context_length} leaves no room for input after max_new_tokens={longest_output}, "
            f"{carried} carried context tokens and a {overhead}-token prompt; lower them"
        )
    return min(config.chunking.chunk_tokens, room)


def _budget_prompts(template: PromptTemplate, slots: dict) -> list[str]:
    """Every prompt a chunk of this style is sent in, with an empty document (the longest sets the budget)."""
    prompts = [template.render("", context="x", **slots)]
    if two := template.qa_two_pass:
        prompts += [two.render_questions("", context="x"), two.render_answer("", "x" * MAX_QUESTION_CHARS)]
    return prompts


def _first_line(text: str) -> str:
    return next((line.strip() for line in text.splitlines() if line.strip()), "")


class _Rewriter:
    """Runs the rounds of one input batch's jobs against the cache and the backend."""

    def __init__(self, config, templates, backend, cache, stats, version):
        self.config, self.templates, self.backend, self.cache, self.stats = config, templates, backend, cache, stats
        self.version = version
        self.max_attempts = max(1, config.max_attempts if config.sampling.temperature > 0 else 1)

    def sampling(self, job: Job) -> Sampling:
        s = self.config.sampling_for(job.variant.template)
        return Sampling(s.max_new_tokens, s.temperature, s.top_p, self.config.seed + job.tries,
                        repetition_penalty=s.repetition_penalty)

    def context(self, job: Job) -> str | None:
        i = len(job.outputs)
        if i == 0:
            return None
        chunking = self.config.chunking
        carried = tail("\n\n".join(job.outputs), chunking.context_tokens, self.backend.count_tokens)
        lead = tail(job.chunks[i - 1], chunking.overlap_tokens, self.backend.count_tokens)
        return carried + (f"\n\n(The original text just before this passage: {lead})" if lead else "")

    def request(self, job: Job) -> GenerationRequest:
        template = self.templates[job.variant.template]
        prompt = template.render(job.chunks[len(job.outputs)], self.context(job), **dict(job.variant.slots))
        return GenerationRequest(prompt, self.sampling(job), template.system, template.response_prefix)

    def run(self, jobs: list[Job]) -> None:
        while active := [job for job in jobs if job.active]:
            self._round(active)

    def _round(self, jobs: list[Job]) -> None:
        """One batched call for every job's current chunk (a ``QATwoPass`` style asks for its questions),
        then one for the answers to those questions; each job's reply is then judged."""
        stats = self.stats
        stats.rounds += 1
        stats.retries += sum(job.tries > 0 for job in jobs)
        twos = [self.templates[job.variant.template].qa_two_pass for job in jobs]
        requests = [self._questions(job, two) if two else self.request(job)
                    for job, two in zip(jobs, twos, strict=True)]
        replies = self._generate(requests, jobs, [":questions" if two else "" for two in twos])
        two_pass = [(i, job, two) for i, (job, two) in enumerate(zip(jobs, twos, strict=True)) if two]
        for (i, *_), output in zip(two_pass, self._answers(two_pass, replies), strict=True):
            replies[i] = output
        for job, output in zip(jobs, replies, strict=True):
            self._judge(job, output)

    def _generate(self, requests: list[GenerationRequest], jobs: list[Job], steps: list[str]) -> list[str]:
        """One batched, cached backend call; identical prompts (boilerplate repeated across documents) are
        generated once. ``steps`` name each request's pass in the cache's style column."""
        if not requests:
            return []
        result = generate_cached(self.backend, self.cache, requests,
                                 [self.templates[job.variant.template].digest for job in jobs],
                                 [job.variant.template + step for job, step in zip(jobs, steps, strict=True)])
        self.stats.cache_hits += result.hits
        self.stats.generated += result.generated
        self.stats.generation_s += result.seconds
        return result.outputs

    def _questions(self, job: Job, two: QATwoPass) -> GenerationRequest:
        prompt = two.render_questions(job.chunks[len(job.outputs)], self.context(job))
        return GenerationRequest(prompt, self.sampling(job), self.templates[job.variant.template].system,
                                 two.questions_prefix)

    def _answers(self, two_pass: list[tuple[int, Job, QATwoPass]], replies: list[str]) -> list[str]:
        """Pass 2 of ``QATwoPass``: every parsed question answered on one line, all in one call. A job's
        output is its question-answer pairs, or its questions reply when no question got an answer."""
        asked, requests, askers = [], [], []
        for i, job, two in two_pass:
            qs = [q for q in questions(replies[i], two.max_questions) if len(q) <= MAX_QUESTION_CHARS]
            asked.append(qs)
            s = self.sampling(job)
            sampling = Sampling(two.answer_max_new_tokens, s.temperature, s.top_p, s.seed, (ANSWER_STOP,),
                                s.repetition_penalty)
            for q in qs:
                askers.append(job)
                requests.append(GenerationRequest(two.render_answer(job.chunks[len(job.outputs)], q), sampling,
                                                  self.templates[job.variant.template].system, two.answer_prefix))
        answered = iter(self._generate(requests, askers, [":answers"] * len(requests)))
        outputs = []
        for (i, _, two), qs in zip(two_pass, asked, strict=True):
            pairs = [(q, a) for q in qs if (a := _first_line(next(answered).removeprefix(two.answer_prefix)))]
            self.stats.qa_questions += len(qs)
            self.stats.qa_answered += len(pairs)
            outputs.append(render_qa(pairs) if pairs else replies[i])
        return outputs

    def _judge(self, job: Job, output: str) -> None:
        stats = self.stats
        template = self.templates[job.variant.template]
        source = job.chunks[len(job.outputs)]
        verdict = validate_generation(output, source, job.language, template, self.config.validation,
                                      check_language=job.kind == PROSE)
        stats.validated += 1
        job.tries += 1
        if verdict.reason is None:
            job.outputs.append(verdict.text)
            job.attempts.append(job.tries)
            job.tries = 0
            return
        stats.failures[verdict.reason] += 1
        stats.failures_by_style[job.variant.label, verdict.reason] += 1
        job.last_reason, job.last_detail = verdict.reason, verdict.detail
        if job.tries >= self.max_attempts:
            job.failed = True


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
    templates = load_templates(config.prompts_dir, config.styles())
    version = config.version
    budget = chunk_budget(config, backend, templates)
    stats = _Stats()
    planner: Planner | None = None
    wall = time.perf_counter()
    rewriter = _Rewriter(config, templates, backend, cache, stats, version)
    for batch in batches:
        if planner is None:
            planner = Planner(config, category, templates, batch.schema, budget, backend.count_tokens)
        rows = batch.to_pylist()
        stats.docs_in += len(rows)
        jobs: list[Job] = []
        drops: list[Drop] = []
        for row in rows:
            planned, refused = planner.plan(row)
            jobs += planned
            for job, reason, detail in refused:
                drops.append(_drop(job, category, reason, version, detail))
                stats.drops_by_style[job.variant.label, reason] += 1
                stats.refused_by_style[job.variant.label] += 1
        for job in jobs:
            stats.chunks += len(job.chunks)
            stats.attempted_by_style[job.variant.label] += 1
        rewriter.run(jobs)
        kept = [_passthrough(row) for row in rows] if config.keep_originals else []
        for job in jobs:
            if job.failed:
                detail = f"attempts={job.tries}; chunk {len(job.outputs) + 1} of {len(job.chunks)}; {job.last_detail}"
                drops.append(_drop(job, category, job.last_reason, version, detail))
                stats.drops_by_style[job.variant.label, job.last_reason] += 1
                continue
            kept.append(_synthetic(job, category, backend, config, templates, version))
            stats.synthetic_docs += 1
            stats.by_style[job.variant.label] += 1
            stats.by_slice[kept[-1]["mixture_slice"]] += 1
            stats.length_ratios.append(len(kept[-1]["text"]) / max(1, sum(len(c) for c in job.chunks)))
        if kept:
            out.write(pa.Table.from_pylist(kept, schema=out.schema))
            stats.docs_out += len(kept)
        if drops:
            drops_out.write(drops_to_table(drops))
            stats.drops.update(d.reason for d in drops)
    plan_stats = planner.stats if planner else None
    return _summary(stats, plan_stats, config, backend, version, time.perf_counter() - wall)


def _drop(job: Job, category: str, reason: str, version: str, detail: str) -> Drop:
    return Drop(
        doc_id=synthetic_doc_id(job.row["id"], job.variant.label),
        category=category,
        stage=STAGE,
        reason=reason,
        detail=f"parent={job.row['id']}; style={job.variant.label}; {detail}",
        param_version=version,
    )


def _passthrough(row: dict) -> dict:
    return {**row, **{name: row.get(name) for name in SYNTHETIC_COLUMNS}}


def provenance(job: Job, backend: LLMBackend, config: RewriteConfig, template: PromptTemplate, version: str) -> dict:
    sampling = config.sampling_for(job.variant.template)
    return {
        "parent_id": job.row["id"],
        "style": job.variant.label,
        "template": template.name,
        "template_source": template.source,
        "template_sha256": template.file_sha256,
        "prompt_sha256": template.digest,
        "slots": dict(job.variant.slots),
        "model": backend.model_id,
        "model_revision": backend.fingerprint,
        "backend": backend.name,
        "sampling": {"temperature": sampling.temperature, "top_p": sampling.top_p,
                     "max_new_tokens": sampling.max_new_tokens, "repetition_penalty": sampling.repetition_penalty,
                     "base_seed": config.seed},
        "attempts": job.attempts,  # per chunk: 1 = accepted first time (seed = base_seed + attempt - 1)
        "chunks": len(job.chunks),
        "kind": job.kind,
        "bucket": job.bucket,
        "language": job.language,
        **job.extra,
        **({"qa_two_pass": {"max_questions": two.max_questions, "answer_max_new_tokens": two.answer_max_new_tokens,
                            "answer_stop": [ANSWER_STOP]}} if (two := template.qa_two_pass) else {}),
        "param_version": version,
    }


def _synthetic(job: Job, category: str, backend, config, templates, version) -> dict:
    parent = job.row
    label = job.variant.label
    return {
        **parent,
        "id": synthetic_doc_id(parent["id"], label),
        "text": "\n\n".join(job.outputs),
        "parent_id": parent["id"],
        "style": label,
        "model": backend.model_id,
        "mixture_slice": mixture_slice(category, label, job.bucket),
        "rewrite_provenance": json.dumps(
            provenance(job, backend, config, templates[job.variant.template], version), ensure_ascii=False
        ),
    }


def _per_style_table(stats: _Stats) -> list[dict]:
    """Validation yield per style: jobs attempted, kept, and what the rest failed on."""
    rows = []
    for style in sorted(set(stats.attempted_by_style) | set(stats.refused_by_style)):
        attempted = stats.attempted_by_style[style]
        gated = stats.refused_by_style[style]
        failures = {r: n for (s, r), n in stats.failures_by_style.items() if s == style}
        rows.append({
            "style": style,
            "attempted": attempted,
            "kept": stats.by_style[style],
            "yield": round(stats.by_style[style] / attempted, 3) if attempted else None,
            "refused_before_generation": gated,
            "rejected_generations": dict(sorted(failures.items())),
        })
    return rows


def _summary(stats: _Stats, plan, config: RewriteConfig, backend, version: str, wall_s: float) -> dict:
    counters = backend.counters.as_dict() if hasattr(backend, "counters") else {}
    ratios = sorted(stats.length_ratios)
    attempted = sum(stats.attempted_by_style.values())
    return {
        "docs_in": stats.docs_in,
        "docs_out": stats.docs_out,
        "drops_by_reason": dict(stats.drops),
        "docs_selected": plan.docs_selected if plan else 0,
        "kinds_selected": dict(plan.kinds) if plan else {},
        "skipped_by_reason": dict(plan.skipped) if plan else {},
        "jobs_attempted": attempted,
        "jobs_failed_validation": attempted - stats.synthetic_docs,
        "synthetic_docs": stats.synthetic_docs,
        "synthetic_by_style": dict(stats.by_style),
        "synthetic_by_slice": dict(stats.by_slice),
        "yield_by_style": _per_style_table(stats),
        "chunks": stats.chunks,
        "rounds": stats.rounds,
        "generated": stats.generated,
        "validated": stats.validated,
        "cache_hits": stats.cache_hits,
        "retries": stats.retries,
        "validation_failures_by_reason": dict(stats.failures),
        "qa_two_pass": {"questions": stats.qa_questions, "answered": stats.qa_answered},
        "length_ratio_p50": round(statistics.median(ratios), 3) if ratios else None,
        "length_ratio_min": round(ratios[0], 3) if ratios else None,
        "length_ratio_max": round(ratios[-1], 3) if ratios else None,
        "generation_s": round(stats.generation_s, 3),
        "new_tokens": counters.get("new_tokens"),
        "new_tokens_per_s": counters.get("new_tokens_per_s"),
        "wall_s": round(wall_s, 3),
        "model": backend.model_id,
        "backend": backend.name,
        "param_version": version,
    }
