"""The synthesis stages: CoT chunks → summaries → instruction + chain of thought (seed 001), and
discipline QA from seed snippets (seed 002); one partition (category) at a time.

Every step runs the same loop (``_run_step``): list the partition's work items (a document, or a
segment for summaries), skip the items a committed part already settled, process the rest in
batches of ``batch_size`` (each batch's prompts go to the backend together, one round per
attempt; vLLM serves a round in one ``generate``), write each batch as a part, then assemble the
output from the parts (``parts.py``). Generations go through the shared generation cache keyed by
(backend, model, template, prompt, sampling), so nothing is generated twice.

Outputs carry ``parent_id``, their segment ids, and a JSON ``synthesis_provenance`` (model and
revision, backend, template and prompt hashes, sampling, attempts, param_version); the two
training outputs carry ``mixture_slice`` (seed 000: ``cot_synthesis_<category>-<bucket>``).
"""

import json
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

import duckdb
import pyarrow as pa

from curation.document import DOC_SCHEMA, Drop, drops_to_table, validate_category
from curation.hashing import short_digest
from curation.lake import Lake, PartitionWriter
from curation.lm.generation import GenerationRequest, LLMBackend, Sampling
from curation.parts import ITEM_COLUMN, PartStore, parts_root, schema_digest
from curation.rewrite.cache import GenerationCache, generate_cached
from curation.rewrite.kinds import KindConfig, document_kind
from curation.rewrite.plan import skip_reason
from curation.rewrite.prompts import PromptTemplate
from curation.scoring.langid import detect_language
from curation.sql import sql_string
from curation.synthesis import segments as seg
from curation.synthesis import validate as val
from curation.synthesis.config import (
    CHUNKS,
    COT,
    DISCIPLINE_QA,
    SUMMARIES,
    SelectionConfig,
    SynthesisConfig,
    TwoPassConfig,
)

STAGES = {CHUNKS: "cot_chunks", SUMMARIES: "cot_summaries", COT: "cot_synthesis", DISCIPLINE_QA: "discipline_qa"}
TRAINING_STAGES = (STAGES[COT], STAGES[DISCIPLINE_QA])  # what the mixture reads
CHAT_MARKUP_TOKENS = 16  # room for the chat template's role markers (as the rewrite stage)
PROMPT_TOO_LONG = "prompt_too_long"
SUMMARIES_INCOMPLETE = "summaries_incomplete"
NOT_COVERED = "segments_do_not_cover_source"


def _schema(*fields: tuple[str, pa.DataType]) -> pa.Schema:
    schema = DOC_SCHEMA
    for name, dtype in fields:
        schema = schema.append(pa.field(name, dtype))
    return schema


_COMMON = (("lang", pa.string()), ("bucket", pa.string()), ("kind", pa.string()), ("model", pa.string()),
           ("synthesis_provenance", pa.string()))
SCHEMAS = {
    CHUNKS: _schema(("parent_id", pa.string()), ("segment_index", pa.int32()), ("segment_count", pa.int32()),
                    ("split_method", pa.string()), ("split_note", pa.string()), *_COMMON),
    SUMMARIES: _schema(("parent_id", pa.string()), ("segment_id", pa.string()), ("segment_index", pa.int32()),
                       ("segment_count", pa.int32()), *_COMMON),
    COT: _schema(("parent_id", pa.string()), ("segment_ids", pa.list_(pa.string())), ("style", pa.string()),
                 ("mixture_slice", pa.string()), ("instruction", pa.string()), *_COMMON),
    DISCIPLINE_QA: _schema(("parent_id", pa.string()), ("style", pa.string()), ("mixture_slice", pa.string()),
                           ("discipline", pa.string()), ("discipline_source", pa.string()), ("problem", pa.string()),
                           *_COMMON),
}


def mixture_slice(prefix: str, category: str, bucket: str | None) -> str:
    """Seed 000's naming: ``cot_synthesis_<source category>-<bucket>`` (``-<bucket>`` only when known)."""
    return validate_category(f"{prefix}_{category}" + (f"-{bucket}" if bucket else ""))


def segment_id(parent_id: str, index: int) -> str:
    return f"{parent_id}~seg{index:03d}"


@dataclass
class Item:
    key: str
    data: dict


@dataclass
class Job:
    """One generation task inside a batch: its prompt, and what its attempts produced."""

    item: Item
    prompt: str
    attempts: int = 0
    verdict: val.Verdict | None = None
    extra: dict = field(default_factory=dict)


@dataclass
class Batch:
    rows: list[dict] = field(default_factory=list)
    drops: list[tuple[str, Drop]] = field(default_factory=list)  # (item key, drop)
    items: dict[str, dict] = field(default_factory=dict)  # item key -> outcome
    counters: Counter = field(default_factory=Counter)
    failures: Counter = field(default_factory=Counter)  # rejected generations by reason (every attempt)

    def drop(self, key: str, drop: Drop, attempts: int | None = None) -> None:
        self.drops.append((key, drop))
        self.items[key] = {"outcome": drop.reason, **({"attempts": attempts} if attempts else {})}

    def keep(self, key: str, row: dict, attempts: int, **outcome) -> None:
        self.rows.append({ITEM_COLUMN: key, **row})
        self.items[key] = {"outcome": "kept", "attempts": attempts, **outcome}


class _Context:
    """What every step shares: config, backend, cache, the step's template and version."""

    def __init__(self, step: str, category: str, backend: LLMBackend, config: SynthesisConfig, cache: GenerationCache):
        self.step, self.category, self.backend, self.config, self.cache = step, validate_category(category), backend, \
            config, cache
        name = config.template_name(step)
        self.template: PromptTemplate = config.templates()[name]
        self.version = config.step_version(step)
        self.stage = STAGES[step]
        self.sampling_config = getattr(config, step).sampling
        sampled = self.sampling_config.temperature > 0
        self.max_attempts = config.max_attempts if sampled else 1  # a greedy retry would repeat itself

    def sampling(self, attempt: int) -> Sampling:
        s = self.sampling_config
        return Sampling(s.max_new_tokens, s.temperature, s.top_p, self.config.seed + attempt,
                        repetition_penalty=s.repetition_penalty)

    def fits(self, prompt: str) -> bool:
        used = self.backend.count_tokens((self.template.system or "") + prompt)
        return used + self.sampling_config.max_new_tokens + CHAT_MARKUP_TOKENS <= self.backend.context_length

    def provenance(self, attempts: int, **extra) -> str:
        s, t, b = self.sampling_config, self.template, self.backend
        return json.dumps({
            "step": self.step, "template": t.name, "template_source": t.source, "template_sha256": t.file_sha256,
            "prompt_sha256": t.digest, "model": b.model_id, "model_revision": b.fingerprint, "backend": b.name,
            "sampling": {"temperature": s.temperature, "top_p": s.top_p, "max_new_tokens": s.max_new_tokens,
                         "repetition_penalty": s.repetition_penalty, "base_seed": self.config.seed},
            "attempts": attempts, "param_version": self.version, **extra,
        }, ensure_ascii=False, sort_keys=True)

    def drop(self, doc_id: str, reason: str, detail: str) -> Drop:
        return Drop(doc_id=doc_id, category=self.category, stage=self.stage, reason=reason, detail=detail,
                    param_version=self.version)

    def request(self, job: Job, attempt: int) -> GenerationRequest:
        return GenerationRequest(job.prompt, self.sampling(attempt), self.template.system, self.template.response_prefix)

    def rounds(self, jobs: list[Job], judge: Callable[[Job, str], val.Verdict], batch: Batch,
               request: Callable[[Job, int], GenerationRequest] | None = None, max_attempts: int | None = None) -> None:
        """Generate for every job, judge, and retry the rejected ones with the next seed, up to max_attempts."""
        request = request or self.request
        pending = list(jobs)
        for attempt in range(max_attempts or self.max_attempts):
            if not pending:
                break
            requests = [request(j, attempt) for j in pending]
            before = _new_tokens(self.backend)
            result = generate_cached(self.backend, self.cache, requests, [self.template.digest] * len(pending),
                                     [self.stage] * len(pending))
            batch.counters["requests"] += len(requests)
            batch.counters["generated"] += result.generated
            batch.counters["cache_hits"] += result.hits
            batch.counters["generation_ms"] += round(result.seconds * 1000)
            batch.counters["new_tokens"] += _new_tokens(self.backend) - before
            batch.counters["rounds"] += 1
            still = []
            for job, output in zip(pending, result.outputs, strict=True):
                job.attempts = attempt + 1
                job.verdict = judge(job, output)
                if not job.verdict.ok:
                    batch.failures[job.verdict.reason] += 1
                    still.append(job)
            pending = still


    def two_pass(self, jobs: list[Job], two: TwoPassConfig, judge_lead: Callable[[Job, str], val.Verdict],
                 judge_whole: Callable[[Job, str], val.Verdict], batch: Batch) -> None:
        """Lead section first, then the body under it (``TwoPassConfig``); one reply when disabled. A job's
        verdict is its lead's when the lead failed, else the whole answer's; ``extra`` keeps the lead's attempts."""
        if not two.enabled:
            self.rounds(jobs, judge_whole, batch)
            return
        s = two.sampling

        def lead(job: Job, attempt: int) -> GenerationRequest:
            sampling = Sampling(s.max_new_tokens, s.temperature, s.top_p, self.config.seed + attempt, two.stop,
                                s.repetition_penalty)
            return GenerationRequest(job.prompt, sampling, self.template.system, self.template.response_prefix)

        def body(job: Job, attempt: int) -> GenerationRequest:
            prefix = two.body_prefix.replace("{lead}", job.extra["lead"])
            return GenerationRequest(job.prompt, self.sampling(attempt), self.template.system, prefix)

        self.rounds(jobs, judge_lead, batch, lead, self.config.max_attempts if s.temperature > 0 else 1)
        accepted = []
        for job in jobs:
            if job.verdict.ok:
                job.extra.update(lead=job.verdict.fields["lead"], lead_attempts=job.attempts)
                accepted.append(job)
            else:
                job.verdict = val.Verdict(job.verdict.reason, f"pass 1 (lead): {job.verdict.detail}")
        batch.counters["leads_accepted"] += len(accepted)
        self.rounds(accepted, judge_whole, batch, body)

    def two_pass_provenance(self, two: TwoPassConfig, job: Job) -> dict:
        if not two.enabled:
            return {}
        s = two.sampling
        return {"two_pass": {"lead_attempts": job.extra["lead_attempts"], "stop": list(two.stop),
                             "body_prefix": two.body_prefix, "lead_sampling": {
                                 "temperature": s.temperature, "top_p": s.top_p, "max_new_tokens": s.max_new_tokens}}}


def _new_tokens(backend) -> int:
    counters = getattr(backend, "counters", None)
    return int(counters.new_tokens) if counters is not None else 0


# -- selection ---------------------------------------------------------------------------------

class Selector:
    """Which documents of a partition a step takes, with a counted reason for every one it leaves."""

    def __init__(self, sel: SelectionConfig, category: str, columns: list[str]):
        self.sel, self.category = sel, category
        if sel.bucket_column is not None and sel.bucket_column not in columns:
            raise ValueError(f"selection.bucket_column {sel.bucket_column!r} is not in the input (columns: "
                             f"{columns}); run the scoring stage first or set bucket_column to null")
        self.taken = 0
        self.skipped: Counter = Counter()

    def bucket(self, row: dict) -> str | None:
        value = row.get(self.sel.bucket_column) if self.sel.bucket_column else None
        return None if value is None else str(value)

    def take(self, row: dict) -> bool:
        reason = self._reason(row)
        if reason is not None:
            self.skipped[reason] += 1
            return False
        self.taken += 1
        return True

    def _reason(self, row: dict) -> str | None:
        sel = self.sel
        if sel.categories is not None and self.category not in sel.categories:
            return "category_not_selected"
        if sel.buckets is not None and self.bucket(row) not in sel.buckets:
            return "bucket_not_selected"
        return skip_reason(row, sel, self.taken)


def _language(row: dict) -> str:
    return row.get("lang") or detect_language(row["text"])


def _doc_items(batches: Iterable[pa.RecordBatch], selector_for: Callable[[list[str]], Selector], stats: dict
               ) -> Iterator[Item]:
    selector = None
    for batch in batches:
        selector = selector or selector_for(batch.schema.names)
        for row in batch.to_pylist():
            stats["docs_in"] += 1
            if selector.take(row):
                kind = document_kind(row, KindConfig())
                yield Item(short_digest(f"{row['id']}\x1f{row['text']}", 12),
                           {**row, "_bucket": selector.bucket(row), "_kind": kind, "_lang": _language(row)})
    stats["skipped_by_reason"] = dict(selector.skipped) if selector else {}


def _parent_columns(row: dict, category: str) -> dict:
    return {"category": category, "source_shard": row.get("source_shard") or "", "source_line": row.get("source_line")
            if row.get("source_line") is not None else -1, "meta": row.get("meta")}


# -- step 1: chunks -----------------------------------------------------------------------------

def _chunk_batch(ctx: _Context, items: list[Item]) -> Batch:
    cfg = ctx.config.chunks
    batch = Batch()
    plans = {}
    jobs = []
    for item in items:
        text = item.data["text"]
        units, _ = seg.units_of(text, cfg.max_unit_chars)
        plans[item.key] = units
        note = None
        if cfg.method == "rule":
            note = "rule_configured"
        elif len(units) < 2:
            note = "single_sentence"
        else:
            prompt = ctx.template.render(seg.numbered(units))
            if ctx.fits(prompt):
                jobs.append(Job(item, prompt))
                continue
            note = PROMPT_TOO_LONG
        item.data["_note"] = note

    def judge(job: Job, output: str) -> val.Verdict:
        units = plans[job.item.key]
        starts, problem = seg.parse_boundaries(output, len(units), cfg.max_segments)
        if problem is None:
            problem = seg.split_problem(units, starts, cfg.max_segment_chars, cfg.min_segment_chars)
        if problem is None and (cover := seg.coverage_problem(job.item.data["text"], seg.join_units(units, starts),
                                                              cfg.max_unit_chars)):
            problem = cover[0]
        return val.Verdict(problem, output[:80]) if problem else val.Verdict(fields={"starts": starts})

    ctx.rounds(jobs, judge, batch)
    attempts = {job.item.key: job for job in jobs}
    batch.counters["llm_attempted"] += len(jobs)
    for item in items:
        units, job = plans[item.key], attempts.get(item.key)
        if job is not None and job.verdict.ok:
            starts, method, note = job.verdict.fields["starts"], "llm", None
        else:
            starts, method = seg.rule_segments(units, cfg.target_segment_chars, cfg.max_segment_chars), "rule"
            note = f"llm_split_invalid:{job.verdict.reason}" if job is not None else item.data.get("_note")
            if job is not None:
                batch.counters["llm_fallbacks"] += 1
        texts = seg.join_units(units, starts)
        problem = seg.coverage_problem(item.data["text"], texts, cfg.max_unit_chars)
        parent = item.data["id"]
        if problem is not None:  # the rule split is the validator's own: this would be a bug, recorded not hidden
            batch.drop(item.key, ctx.drop(segment_id(parent, 0), NOT_COVERED, problem[1]))
            continue
        prov = ctx.provenance(job.attempts if job else 0, parent_id=parent, split_method=method, split_note=note)
        for i, text in enumerate(texts):
            batch.rows.append({
                ITEM_COLUMN: item.key, "id": segment_id(parent, i), "text": text, **_parent_columns(item.data,
                                                                                                  ctx.category),
                "parent_id": parent, "segment_index": i, "segment_count": len(texts), "split_method": method,
                "split_note": note, "lang": item.data["_lang"], "bucket": item.data["_bucket"],
                "kind": item.data["_kind"], "model": ctx.backend.model_id if method == "llm" else None,
                "synthesis_provenance": prov,
            })
        batch.items[item.key] = {"outcome": "kept", "method": method, "note": note, "segments": len(texts)}
    return batch


# -- step 2: summaries --------------------------------------------------------------------------

def _summary_items(batches: Iterable[pa.RecordBatch], stats: dict) -> Iterator[Item]:
    for batch in batches:
        for row in batch.to_pylist():
            stats["docs_in"] += 1
            yield Item(short_digest(f"{row['id']}\x1f{row['text']}", 12), row)


def _summary_batch(ctx: _Context, items: list[Item]) -> Batch:
    cfg = ctx.config.summaries
    batch = Batch()
    jobs = []
    for item in items:
        prompt = ctx.template.render(item.data["text"].strip())
        if ctx.fits(prompt):
            jobs.append(Job(item, prompt))
        else:
            batch.drop(item.key, ctx.drop(f"{item.data['id']}~summary", PROMPT_TOO_LONG,
                                          f"segment of {len(item.data['text'])} chars"))
    ctx.rounds(jobs, lambda job, out: val.check_summary(out, job.item.data["text"], ctx.template, cfg), batch)
    batch.counters["attempted"] += len(jobs)
    for job in jobs:
        row = job.item.data
        doc_id = f"{row['id']}~summary"
        if not job.verdict.ok:
            detail = f"parent={row['parent_id']}; segment={row['id']}; attempts={job.attempts}; {job.verdict.detail}"
            batch.drop(job.item.key, ctx.drop(doc_id, job.verdict.reason, detail), job.attempts)
            continue
        batch.keep(job.item.key, {
            "id": doc_id, "text": job.verdict.fields["summary"],
            **_parent_columns(row, ctx.category), "parent_id": row["parent_id"], "segment_id": row["id"],
            "segment_index": row["segment_index"], "segment_count": row["segment_count"], "lang": row["lang"],
            "bucket": row["bucket"], "kind": row["kind"], "model": ctx.backend.model_id,
            "synthesis_provenance": ctx.provenance(job.attempts, parent_id=row["parent_id"], segment_id=row["id"],
                                                   length_ratio=job.verdict.fields["length_ratio"]),
        }, job.attempts)
    return batch


# -- step 3: instruction + chain of thought -----------------------------------------------------

def document_groups(lake: Lake, category: str, batch_rows: int = 1024) -> Iterator[dict]:
    """Each document of ``cot_chunks`` with its segments (in order) and their summaries (None where a
    segment has none), grouped by DuckDB over the parquet files so memory holds one record batch."""
    chunks = lake.files(STAGES[CHUNKS], category)
    if not chunks:
        return
    summaries = lake.files(STAGES[SUMMARIES], category)
    files = lambda paths: "[" + ", ".join(sql_string(p) for p in paths) + "]"
    summary_table = (f"SELECT segment_id, text AS summary FROM read_parquet({files(summaries)})" if summaries
                     else "SELECT NULL::VARCHAR AS segment_id, NULL::VARCHAR AS summary WHERE FALSE")
    query = f"""
        WITH c AS (SELECT * FROM read_parquet({files(chunks)})), s AS ({summary_table})
        SELECT c.parent_id, list(c.id ORDER BY c.segment_index) AS segment_ids,
               list(c.text ORDER BY c.segment_index) AS segments,
               list(s.summary ORDER BY c.segment_index) AS summaries,
               any_value(c.lang) AS lang, any_value(c.bucket) AS bucket, any_value(c.kind) AS kind,
               any_value(c.source_shard) AS source_shard, any_value(c.source_line) AS source_line,
               any_value(c.meta) AS meta
        FROM c LEFT JOIN s ON s.segment_id = c.id
        GROUP BY c.parent_id ORDER BY c.parent_id"""
    with duckdb.connect() as con:
        reader = con.sql(query).to_arrow_reader(batch_rows)
        for record_batch in reader:
            yield from record_batch.to_pylist()


def _cot_items(groups: Iterable[dict], stats: dict) -> Iterator[Item]:
    for group in groups:
        stats["docs_in"] += 1
        payload = "\x1f".join([group["parent_id"], *group["segments"], *(s or "\x00" for s in group["summaries"])])
        yield Item(short_digest(payload, 12), group)


def _numbered_summaries(summaries: list[str]) -> str:
    return "\n".join(f"{i}. {' '.join(s.split())}" for i, s in enumerate(summaries, 1))


def _cot_batch(ctx: _Context, items: list[Item]) -> Batch:
    cfg, category = ctx.config.cot, ctx.category
    batch = Batch()
    jobs = []
    for item in items:
        g = item.data
        have = [s for s in g["summaries"] if s]
        doc_id = f"{g['parent_id']}~cot_synthesis"
        if len(have) / len(g["summaries"]) < ctx.config.summaries.min_coverage or not have:
            detail = f"{len(have)} of {len(g['summaries'])} segments have a valid summary"
            batch.drop(item.key, ctx.drop(doc_id, SUMMARIES_INCOMPLETE, detail))
            continue
        prompt = ctx.template.render(_numbered_summaries(have))
        if not ctx.fits(prompt):
            batch.drop(item.key, ctx.drop(doc_id, PROMPT_TOO_LONG, f"{len(have)} summaries"))
            continue
        jobs.append(Job(item, prompt, extra={"source": "".join(g["segments"])}))
    ctx.two_pass(jobs, cfg.two_pass,
                 lambda job, out: val.check_instruction(out, job.extra["source"], ctx.template, cfg),
                 lambda job, out: val.check_cot(out, job.extra["source"], job.item.data["kind"], ctx.template, cfg),
                 batch)
    batch.counters["attempted"] += len(jobs)
    for job in jobs:
        g, v = job.item.data, job.verdict
        doc_id = f"{g['parent_id']}~cot_synthesis"
        if not v.ok:
            detail = f"parent={g['parent_id']}; attempts={job.attempts}; {v.detail}"
            batch.drop(job.item.key, ctx.drop(doc_id, v.reason, detail), job.attempts)
            continue
        f = v.fields
        batch.counters[f"answer_{f['answer_check']}"] += 1
        batch.keep(job.item.key, {
            "id": doc_id,
            "text": val.render_document(cfg.document_template, f["instruction"], f["reasoning"], job.extra["source"]),
            **_parent_columns(g, category), "parent_id": g["parent_id"], "segment_ids": g["segment_ids"],
            "style": STAGES[COT], "mixture_slice": mixture_slice(STAGES[COT], category, g["bucket"]),
            "instruction": f["instruction"], "lang": g["lang"], "bucket": g["bucket"], "kind": g["kind"],
            "model": ctx.backend.model_id,
            "synthesis_provenance": ctx.provenance(
                job.attempts, parent_id=g["parent_id"], segment_ids=g["segment_ids"], steps=f["steps"],
                summaries_used=sum(1 for x in g["summaries"] if x), segments=len(g["segments"]),
                answer_check=f["answer_check"], answer_detail=f["answer_detail"],
                document_template=cfg.document_template, **ctx.two_pass_provenance(cfg.two_pass, job), upstream={
                    "chunks": ctx.config.step_version(CHUNKS), "summaries": ctx.config.step_version(SUMMARIES)}),
        }, job.attempts)
    return batch


# -- discipline QA ------------------------------------------------------------------------------

def discipline_for(row: dict, category: str, config: SynthesisConfig, kind: str) -> tuple[str, str]:
    """(discipline, where it came from): the config's entry for the category, else the document's topic
    label, else seed 002's discipline for what the document is (its kind)."""
    cfg = config.discipline_qa
    if category in cfg.disciplines:
        return cfg.disciplines[category], "config"
    topic = row.get(cfg.topic_column) if cfg.topic_column else None
    if topic and str(topic).strip():
        return str(topic).strip(), "topic"
    return cfg.by_kind.get(kind, cfg.by_kind.get("prose", "General Education")), "kind"


def seed_snippet(text: str, max_chars: int) -> str:
    """The document's opening whole sentences, up to ``max_chars`` (seed 002's seed snippets are excerpts)."""
    units, _ = seg.units_of(text, max_chars)
    out, size = [], 0
    for unit in units:
        if out and size + len(unit) > max_chars:
            break
        out.append(unit)
        size += len(unit)
    return "".join(out).strip()


def _qa_batch(ctx: _Context, items: list[Item]) -> Batch:
    cfg, category = ctx.config.discipline_qa, ctx.category
    batch = Batch()
    jobs = []
    for item in items:
        row = item.data
        discipline, source = discipline_for(row, category, ctx.config, row["_kind"])
        snippet = seed_snippet(row["text"], cfg.snippet_chars)
        prompt = ctx.template.render(snippet, discipline=discipline)
        if not ctx.fits(prompt):
            batch.drop(item.key, ctx.drop(f"{row['id']}~discipline_qa", PROMPT_TOO_LONG, f"{len(snippet)} chars"))
            continue
        jobs.append(Job(item, prompt, extra={"snippet": snippet, "discipline": discipline, "source": source}))
    ctx.two_pass(jobs, cfg.two_pass, lambda job, out: val.check_problem(out, job.extra["snippet"], ctx.template, cfg),
                 lambda job, out: val.check_discipline_qa(out, job.extra["snippet"], ctx.template, cfg), batch)
    batch.counters["attempted"] += len(jobs)
    for job in jobs:
        row, v = job.item.data, job.verdict
        doc_id = f"{row['id']}~discipline_qa"
        if not v.ok:
            detail = f"parent={row['id']}; discipline={job.extra['discipline']}; attempts={job.attempts}; {v.detail}"
            batch.drop(job.item.key, ctx.drop(doc_id, v.reason, detail), job.attempts)
            continue
        batch.keep(job.item.key, {
            "id": doc_id, "text": val.render_qa(v.fields["problem"], v.fields["solution"]),
            **_parent_columns(row, category), "parent_id": row["id"], "style": STAGES[DISCIPLINE_QA],
            "mixture_slice": mixture_slice(STAGES[DISCIPLINE_QA], category, row["_bucket"]),
            "discipline": job.extra["discipline"], "discipline_source": job.extra["source"],
            "problem": v.fields["problem"], "lang": row["_lang"], "bucket": row["_bucket"], "kind": row["_kind"],
            "model": ctx.backend.model_id,
            "synthesis_provenance": ctx.provenance(job.attempts, parent_id=row["id"], discipline=job.extra["discipline"],
                                                   discipline_source=job.extra["source"], steps=v.fields["steps"],
                                                   snippet_chars=len(job.extra["snippet"]),
                                                   **ctx.two_pass_provenance(cfg.two_pass, job)),
        }, job.attempts)
    return batch


# -- the shared loop ----------------------------------------------------------------------------

def _part_tables(batch: Batch, schema: pa.Schema) -> tuple[pa.Table, pa.Table]:
    rows = pa.Table.from_pylist(batch.rows, schema=schema.append(pa.field(ITEM_COLUMN, pa.string())))
    drops = drops_to_table([d for _, d in batch.drops]).append_column(
        ITEM_COLUMN, pa.array([k for k, _ in batch.drops], pa.string()))
    return rows, drops


def _run_step(ctx: _Context, items: Iterable[Item], process: Callable[[_Context, list[Item]], Batch],
              lake: Lake, out: PartitionWriter, drops_out: PartitionWriter, stats: dict) -> dict:
    schema = SCHEMAS[ctx.step]
    store = PartStore(parts_root(lake, ctx.stage, ctx.category), f"{ctx.version}-{schema_digest(schema)}")
    done = store.done()
    wall = time.perf_counter()
    selected: set[str] = set()
    this_run = Counter()
    pending: list[Item] = []

    def flush():
        batch = process(ctx, pending)
        batch.counters["items"] += len(pending)
        batch.counters["batch_ms"] = round((time.perf_counter() - started) * 1000)
        store.write(*_part_tables(batch, schema), batch.items, {**batch.counters, "failures": dict(batch.failures)})
        this_run.update(batch.counters)
        this_run["batches"] += 1

    started = time.perf_counter()
    for item in items:
        if item.key in selected:
            stats["duplicate_inputs"] = stats.get("duplicate_inputs", 0) + 1
            continue
        selected.add(item.key)
        if item.key in done:
            this_run["resumed_items"] += 1
            continue
        pending.append(item)
        if len(pending) >= ctx.config.batch_size:
            flush()
            pending, started = [], time.perf_counter()
    if pending:
        flush()
    for rows, drops in store.tables(selected):
        out.write(rows)
        drops_out.write(drops)
    store.prune()
    return _summary(ctx, store, selected, this_run, stats, time.perf_counter() - wall)


def _summary(ctx: _Context, store: PartStore, selected: set[str], this_run: Counter, stats: dict, wall_s: float) -> dict:
    outcomes, methods, notes, failures, totals = Counter(), Counter(), Counter(), Counter(), Counter()
    for part in store.parts():
        mine = {k: v for k, v in part.items.items() if k in selected}
        if not mine:
            continue
        for outcome in mine.values():
            outcomes[outcome["outcome"]] += 1
            if "method" in outcome:
                methods[outcome["method"]] += 1
                if outcome.get("note"):
                    notes[outcome["note"]] += 1
        failures.update(part.counters.get("failures", {}))
        totals.update({k: v for k, v in part.counters.items() if k != "failures"})
    kept = outcomes.pop("kept", 0)
    minutes = wall_s / 60
    return {
        **stats,
        "step": ctx.step, "stage": ctx.stage, "param_version": ctx.version,
        "items": len(selected), "kept": kept, "dropped": sum(outcomes.values()),
        "drops_by_reason": dict(outcomes),
        # items that went to the model (the drop-rate check's denominator) and the ones it failed on
        "attempted": totals["attempted"] if ctx.step != CHUNKS else totals["llm_attempted"],
        "failed_validation": sum(n for r, n in outcomes.items() if r not in (PROMPT_TOO_LONG, SUMMARIES_INCOMPLETE,
                                                                               NOT_COVERED)),
        "rejected_generations_by_reason": dict(failures),
        "split_methods": dict(methods), "split_notes": dict(notes),
        "llm_attempted": totals["llm_attempted"], "llm_fallbacks": totals["llm_fallbacks"],
        "answer_checks": {k[len("answer_"):]: v for k, v in totals.items() if k.startswith("answer_")},
        # two-pass steps: leads (problems, instructions) that passed their checks and got a body generated
        "leads_accepted": totals["leads_accepted"],
        "requests": totals["requests"], "generated": totals["generated"], "cache_hits": totals["cache_hits"],
        "new_tokens": totals["new_tokens"], "generation_s": round(totals["generation_ms"] / 1000, 3),
        "this_run": {"items_processed": this_run["items"], "resumed_items": this_run["resumed_items"],
                     "batches": this_run["batches"], "generated": this_run["generated"],
                     "cache_hits": this_run["cache_hits"], "new_tokens": this_run["new_tokens"],
                     "generation_s": round(this_run["generation_ms"] / 1000, 3)},
        "items_per_min": round(this_run["items"] / minutes, 2) if this_run["items"] and minutes else None,
        "new_tokens_per_item": round(totals["new_tokens"] / len(selected), 1) if selected else None,
        "wall_s": round(wall_s, 3),
        "model": ctx.backend.model_id, "backend": ctx.backend.name,
    }


# -- entry points (one per asset) ---------------------------------------------------------------

def _stats() -> dict:
    return {"docs_in": 0, "skipped_by_reason": {}}


def chunk_partition(lake: Lake, category: str, backend: LLMBackend, config: SynthesisConfig, cache: GenerationCache,
                    out: PartitionWriter, drops_out: PartitionWriter) -> dict:
    """``synthetic/cot_chunks``: the selected documents of ``corpus/scored``, split into segments."""
    ctx, stats = _Context(CHUNKS, category, backend, config, cache), _stats()
    items = _doc_items(lake.iter_batches("scored", category), lambda cols: Selector(config.selection, category, cols),
                       stats)
    return _run_step(ctx, items, _chunk_batch, lake, out, drops_out, stats)


def summary_partition(lake: Lake, category: str, backend: LLMBackend, config: SynthesisConfig, cache: GenerationCache,
                      out: PartitionWriter, drops_out: PartitionWriter) -> dict:
    """``synthetic/cot_summaries``: an abstract of every segment in ``cot_chunks``."""
    ctx, stats = _Context(SUMMARIES, category, backend, config, cache), _stats()
    items = _summary_items(lake.iter_batches(STAGES[CHUNKS], category), stats)
    return _run_step(ctx, items, _summary_batch, lake, out, drops_out, stats)


def cot_partition(lake: Lake, category: str, backend: LLMBackend, config: SynthesisConfig, cache: GenerationCache,
                  out: PartitionWriter, drops_out: PartitionWriter) -> dict:
    """``synthetic/cot_synthesis``: instruction + reasoning from a document's summaries, the document as answer."""
    ctx, stats = _Context(COT, category, backend, config, cache), _stats()
    items = _cot_items(document_groups(lake, category), stats)
    return _run_step(ctx, items, _cot_batch, lake, out, drops_out, stats)


def discipline_qa_partition(lake: Lake, category: str, backend: LLMBackend, config: SynthesisConfig,
                            cache: GenerationCache, out: PartitionWriter, drops_out: PartitionWriter) -> dict:
    """``synthetic/discipline_qa``: seed 002's problem + solution from each selected document's opening."""
    ctx, stats = _Context(DISCIPLINE_QA, category, backend, config, cache), _stats()
    sel = config.discipline_qa.selection
    items = _doc_items(lake.iter_batches("scored", category), lambda cols: Selector(sel, category, cols), stats)
    return _run_step(ctx, items, _qa_batch, lake, out, drops_out, stats)


PARTITION_FUNCTIONS = {CHUNKS: chunk_partition, SUMMARIES: summary_partition, COT: cot_partition,
                       DISCIPLINE_QA: discipline_qa_partition}
