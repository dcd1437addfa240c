"""Which documents are rewritten in which styles: selection, routing by kind and bucket, code gates.

Every document either gets jobs (one per style variant) or a counted reason why not; a job
that cannot run (input too long, code that does not compile, a lint score under the bar)
becomes a drop row for the synthetic document it would have made.
"""

import hashlib
from collections import Counter
from dataclasses import dataclass, field

import pyarrow as pa

from curation.rewrite import code as code_gate
from curation.rewrite.chunking import chunk_text
from curation.rewrite.config import MAGA, RewriteConfig, maga_label
from curation.rewrite.kinds import CODE, PROSE, PYTHON, PYTHON_INVALID, code_language, document_kind
from curation.rewrite.postprocess import SYNTAX_ERROR
from curation.rewrite.prompts import PromptTemplate
from curation.rewrite.validate import detect_language

INPUT_TOO_LONG = "input_too_long"
LINT_BELOW_THRESHOLD = "lint_score_below_threshold"
ALL_BUCKETS = "all"


@dataclass(frozen=True)
class Variant:
    """One output style: its label (the ``style`` column and slice name part), template and slot values."""

    label: str
    template: str
    slots: tuple[tuple[str, str], ...] = ()


@dataclass
class Job:
    """One document in one style variant, rewritten chunk by chunk; outputs fill in as chunks are accepted."""

    row: dict
    variant: Variant
    kind: str
    bucket: str
    language: str
    chunks: list[str]
    outputs: list[str] = field(default_factory=list)
    attempts: list[int] = field(default_factory=list)  # attempts used per accepted chunk
    tries: int = 0  # attempts on the current chunk
    last_reason: str | None = None
    last_detail: str = ""
    failed: bool = False
    extra: dict = field(default_factory=dict)  # provenance facts from planning (lint score)

    @property
    def done(self) -> bool:
        return len(self.outputs) == len(self.chunks)

    @property
    def active(self) -> bool:
        return not self.done and not self.failed


@dataclass
class PlanStats:
    docs_selected: int = 0
    skipped: Counter = field(default_factory=Counter)
    kinds: Counter = field(default_factory=Counter)


def hash_fraction(doc_id: str) -> float:
    return int.from_bytes(hashlib.blake2b(doc_id.encode(), digest_size=8).digest(), "big") / 2**64


def skip_reason(row: dict, sel, taken: int) -> str | None:
    """Why a document is left out by a budgeted selection (``sel``: min_chars, max_chars, sample_rate,
    max_docs_per_category; ``taken``: documents selected so far), or None: the rewrite and synthesis stages'
    shared rule."""
    text = row.get("text") or ""
    if not text.strip():
        return "empty_text"
    if len(text) < sel.min_chars:
        return "too_short"
    if sel.max_chars is not None and len(text) > sel.max_chars:
        return "too_long_for_budget"
    if hash_fraction(row["id"]) >= sel.sample_rate:
        return "sampled_out"
    if sel.max_docs_per_category is not None and taken >= sel.max_docs_per_category:
        return "over_max_docs_per_category"
    return None


def variants(config: RewriteConfig, styles: tuple[str, ...]) -> list[Variant]:
    out = []
    for style in styles:
        if style == MAGA:
            out += [Variant(maga_label(g, a), MAGA, (("genre", g), ("audience", a))) for g, a in config.maga.pairs]
        else:
            out.append(Variant(style, style))
    return out


class Planner:
    """Turns document rows into jobs, counting the reason for every document or style left out."""

    def __init__(self, config: RewriteConfig, category: str, templates: dict[str, PromptTemplate], schema: pa.Schema,
                 budget_tokens: int, count_tokens):
        self.config, self.category, self.templates = config, category, templates
        sel = config.selection
        if sel.column is not None and schema.get_field_index(sel.column) < 0:
            raise ValueError(
                f"selection column {sel.column!r} is not in the input (columns: {schema.names}); "
                "run the scoring stage first or set selection.column to null"
            )
        self.has_lang = schema.get_field_index("lang") >= 0
        self.budget, self.count_tokens = budget_tokens, count_tokens
        self.taken: Counter = Counter()  # (label, bucket) -> documents given that style
        self.stats = PlanStats()

    def _skip(self, row: dict) -> str | None:
        return skip_reason(row, self.config.selection, self.stats.docs_selected)

    def plan(self, row: dict) -> tuple[list[Job], list[tuple[Job, str, str]]]:
        """Jobs for one document, and (job, reason, detail) for styles it was routed to but cannot get."""
        skip = self._skip(row)
        if skip is not None:
            self.stats.skipped[skip] += 1
            return [], []
        sel = self.config.selection
        bucket = str(row.get(sel.column)) if sel.column is not None else ALL_BUCKETS
        kind = document_kind(row, self.config.kinds, self.config.kind_override(self.category))
        styles = self.config.routes_for(self.category, kind).get(bucket, ())
        if not styles:
            self.stats.skipped[f"no_route_for_{kind}_{bucket}"] += 1
            return [], []
        language = (row.get("lang") if self.has_lang else None) or detect_language(row["text"])
        chunks: list[str] | None = None
        jobs, refused = [], []
        lang_of_code = code_language(row["text"]) if kind == CODE else None
        memo: dict = {}  # the lint score, computed once per document
        for variant in variants(self.config, styles):
            template = self.templates[variant.template]
            if kind not in template.kinds:
                self.stats.skipped[f"{kind}_not_for_{variant.label}"] += 1
                continue
            if kind == PROSE and not template.accepts_language(language):
                self.stats.skipped[f"language_{language}_not_for_{variant.label}"] += 1
                continue
            if template.postprocess == "python_code" and lang_of_code not in (PYTHON, PYTHON_INVALID):
                self.stats.skipped[f"not_python_for_{variant.label}"] += 1
                continue
            if sel.max_docs_per_style is not None and self.taken[variant.label, bucket] >= sel.max_docs_per_style:
                self.stats.skipped[f"over_max_docs_per_style_{variant.label}"] += 1
                continue
            chunks = chunks or chunk_text(row["text"], self.budget, self.count_tokens)
            job = Job(row=row, variant=variant, kind=kind, bucket=bucket, language=language, chunks=chunks)
            self.taken[variant.label, bucket] += 1
            problem = self._gate(job, template, lang_of_code, memo)
            if problem is not None:
                refused.append((job, *problem))
            else:
                jobs.append(job)
        if jobs or refused:
            self.stats.docs_selected += 1
            self.stats.kinds[kind] += 1
        return jobs, refused

    def _gate(self, job: Job, template: PromptTemplate, lang_of_code: str | None, memo: dict) -> tuple[str, str] | None:
        config = self.config
        # code is rewritten whole: a chunk of a program is not a program
        limit = 1 if job.kind == CODE else config.chunking.max_chunks_per_doc
        if len(job.chunks) > limit:
            return INPUT_TOO_LONG, f"{len(job.chunks)} chunks of <= {self.budget} tokens > {limit}"
        if template.postprocess != "python_code":
            return None
        if lang_of_code == PYTHON_INVALID and config.code.syntax_gate:
            return SYNTAX_ERROR, "the source does not compile (SwallowCode syntax gate)"
        if config.code.min_lint_score is not None:
            if "lint" not in memo:
                memo["lint"] = code_gate.lint_score(job.row["text"])
            score = job.extra["lint_score_ruff"] = memo["lint"]
            if score < config.code.min_lint_score:
                return LINT_BELOW_THRESHOLD, f"lint_score_ruff {score} < {config.code.min_lint_score}"
        return None
