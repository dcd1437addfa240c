"""Knobs of the synthesis stages (``configs/synthesis.yaml``), with where each default comes from.

Four steps, each an asset per category: ``chunks`` (segmentation), ``summaries``, ``cot``
(instruction + chain of thought, seed 001) and ``discipline_qa`` (seed 002). Budgets (documents per
category, tokens per generation) are CPU-demo sized in the shipped YAML; the defaults here are
what a GPU run would use. Unknown keys are refused at every level.
"""

import dataclasses
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from curation.config_keys import refuse_unknown_keys
from curation.rewrite.config import DEFAULT_PROMPTS_DIR, SamplingConfig
from curation.rewrite.prompts import load_templates

CHUNKS, SUMMARIES, COT, DISCIPLINE_QA = "chunks", "summaries", "cot", "discipline_qa"
STEPS = (CHUNKS, SUMMARIES, COT, DISCIPLINE_QA)
SPLIT_METHODS = ("llm", "rule")
# the training text of one CoT sample (its three slots each exactly once): the instruction the
# source answers, the model's reasoning towards it, and the source document itself as the answer
DEFAULT_DOCUMENT_TEMPLATE = "Question: {instruction}\n\nReasoning:\n{reasoning}\n\nAnswer:\n{answer}"
DOCUMENT_SLOTS = ("{instruction}", "{reasoning}", "{answer}")


@dataclass(frozen=True)
class SelectionConfig:
    # the scoring stage's column carrying the quality bucket (part of the slice name); None: no bucket
    bucket_column: str | None = "quality_bucket"
    # buckets to synthesize from (None: all). Seed 000 lists only cot_synthesis_*-high slices
    buckets: tuple[str, ...] | None = None
    categories: tuple[str, ...] | None = None  # None: every category partition
    max_docs_per_category: int | None = None  # budget; None: no cap
    sample_rate: float = 1.0  # deterministic, on a hash of the id (curation/rewrite/plan.hash_fraction)
    min_chars: int = 200  # too little text to reason about (our choice)
    max_chars: int | None = None


@dataclass(frozen=True)
class ChunkConfig:
    template: str = "cot_segment"
    method: str = "llm"  # "llm" (seed 001: an instruct model splits) or "rule" (the sentence splitter alone)
    # our choice: a few sentences per segment, so its abstract has something to condense
    target_segment_chars: int = 600
    max_segment_chars: int = 1500
    # a segment shorter than this ("Answer: 6") has nothing to abstract: such an LLM split is refused
    min_segment_chars: int = 100
    max_segments: int = 12
    # a unit longer than this (code, tables) is cut at line breaks, then spaces (sentences.py)
    max_unit_chars: int = 1200
    sampling: SamplingConfig = field(default_factory=lambda: SamplingConfig(temperature=0.0, top_p=1.0,
                                                                           max_new_tokens=48))


@dataclass(frozen=True)
class SummaryConfig:
    template: str = "cot_summary"
    sampling: SamplingConfig = field(default_factory=lambda: SamplingConfig(temperature=0.3, top_p=0.9,
                                                                           max_new_tokens=128))
    # seed 001 asks for a concise abstract: longer than this share of its segment is no abstract (our bound)
    max_length_ratio: float = 0.75
    # an abstract made of the segment's own sentences is an extract, not an abstract: share of its word
    # n-grams (CJK: character n-grams) found in the segment above which it is a copy (our bound)
    ngram: int = 5
    max_overlap: float = 0.9
    min_chars: int = 15
    # py3langid is unreliable below a sentence (the rewrite stage's bound)
    min_chars_for_language: int = 40
    # an abstract states no number its segment does not (K2 fidelity, seed 003)
    max_unsupported_number_share: float = 0.0
    # share of a document's segments that need a valid abstract before it is synthesized (seed 001: all)
    min_coverage: float = 1.0


@dataclass(frozen=True)
class TwoPassConfig:
    """A two-section answer generated one section at a time (our method for small models: SmolLM2-135M
    wrote the [Solution] header in 0 of 6 real snippets when asked for both sections at once). Pass 1
    writes the lead section (the problem, the instruction) and stops at the next section's label; a lead
    that fails its own checks is dropped before any body is generated; pass 2 prefills ``body_prefix``
    (the accepted lead in its section) and writes the body. ``enabled: false``: one reply with both."""

    enabled: bool = True
    sampling: SamplingConfig = field(default_factory=lambda: SamplingConfig(temperature=0.7, top_p=0.9,
                                                                           max_new_tokens=160))
    stop: tuple[str, ...] = ()
    body_prefix: str = "{lead}"

    def __post_init__(self):
        if self.body_prefix.count("{lead}") != 1:
            raise ValueError("two_pass.body_prefix must contain {lead} exactly once")


@dataclass(frozen=True)
class CotConfig:
    template: str = "cot_synthesis"
    sampling: SamplingConfig = field(default_factory=lambda: SamplingConfig(temperature=0.7, top_p=0.9,
                                                                           max_new_tokens=768))
    document_template: str = DEFAULT_DOCUMENT_TEMPLATE
    min_instruction_chars: int = 12
    max_instruction_chars: int = 600
    # copy test: share of the instruction's word n-grams (CJK: character n-grams) found in the source
    ngram: int = 5
    max_instruction_overlap: float = 0.6
    # reasoning that is mostly the source verbatim reasons about nothing (our bound)
    max_reasoning_overlap: float = 0.8
    min_reasoning_chars: int = 200
    min_steps: int = 3
    # share of the reasoning's numbers absent from the source; math derives intermediate values
    max_unsupported_number_share: float = 0.25
    math_max_unsupported_number_share: float = 0.6
    check_math_answer: bool = True
    answer_rel_tolerance: float = 1e-6
    min_words_for_repetition: int = 50  # Gopher's n-gram shares are noise on shorter texts (rewrite stage)
    # the instruction first (its first paragraph after the prefilled "Question:"), then the reasoning under it
    two_pass: TwoPassConfig = field(default_factory=lambda: TwoPassConfig(
        sampling=SamplingConfig(temperature=0.7, top_p=0.9, max_new_tokens=96),
        stop=("Reasoning:",), body_prefix="Question: {lead}\n\nReasoning:\n"))


@dataclass(frozen=True)
class DisciplineQAConfig:
    template: str = "discipline_qa"
    selection: SelectionConfig = field(default_factory=SelectionConfig)
    sampling: SamplingConfig = field(default_factory=lambda: SamplingConfig(temperature=0.7, top_p=0.9,
                                                                           max_new_tokens=640))
    # seed 002's seed snippets are short web excerpts: the document's opening sentences up to this
    snippet_chars: int = 800
    # discipline per category (the user says what a category is); else the topic column; else by kind
    disciplines: dict = field(default_factory=dict)
    topic_column: str | None = "topic"
    # seed 002's discipline table (Mathematics, Computer Science, General Education ...), chosen by
    # what a document is (curation/rewrite/kinds.py), never by its category's name
    by_kind: dict = field(default_factory=lambda: {"math": "Mathematics", "code": "Computer Science",
                                                   "prose": "General Education"})
    # seed 002 asks for a 250-350 word solution; this is the floor below which it is no solution
    min_solution_chars: int = 300
    min_steps: int = 2
    ngram: int = 5
    max_problem_overlap: float = 0.6
    min_problem_chars: int = 20
    check_language: bool = True
    min_chars_for_language: int = 40
    min_words_for_repetition: int = 50
    # the problem first (after the prefilled "[Problem]"), then the solution under it
    two_pass: TwoPassConfig = field(default_factory=lambda: TwoPassConfig(
        sampling=SamplingConfig(temperature=0.7, top_p=0.9, max_new_tokens=192),
        stop=("[Solution]",), body_prefix="[Problem]\n{lead}\n\n[Solution]\n"))


@dataclass(frozen=True)
class SynthesisConfig:
    prompts_dir: Path = DEFAULT_PROMPTS_DIR
    selection: SelectionConfig = field(default_factory=SelectionConfig)
    # documents (chunks, cot, discipline_qa) or segments (summaries) per batch: one part file each, so a
    # killed run loses at most one batch; on vLLM a batch's requests go in one generate call
    batch_size: int = 64
    seed: int = 0
    # bounded retries with a new seed (seed 003: 错误重试); at temperature 0 a retry would repeat itself
    max_attempts: int = 2
    chunks: ChunkConfig = field(default_factory=ChunkConfig)
    summaries: SummaryConfig = field(default_factory=SummaryConfig)
    cot: CotConfig = field(default_factory=CotConfig)
    discipline_qa: DisciplineQAConfig = field(default_factory=DisciplineQAConfig)

    def __post_init__(self):
        if self.batch_size < 1 or self.max_attempts < 1:
            raise ValueError("batch_size >= 1 and max_attempts >= 1 are required")
        if self.chunks.method not in SPLIT_METHODS:
            raise ValueError(f"chunks.method must be one of {SPLIT_METHODS}, got {self.chunks.method!r}")
        if not 0 <= self.chunks.min_segment_chars <= self.chunks.target_segment_chars <= self.chunks.max_segment_chars:
            raise ValueError("need 0 <= chunks.min_segment_chars <= target_segment_chars <= max_segment_chars")
        if self.chunks.max_unit_chars > self.chunks.max_segment_chars:
            raise ValueError("chunks.max_unit_chars must be <= max_segment_chars (one sentence must fit a segment)")
        for slot in DOCUMENT_SLOTS:
            if self.cot.document_template.count(slot) != 1:
                raise ValueError(f"cot.document_template must contain {slot} exactly once")
        for where, sel in (("selection", self.selection), ("discipline_qa.selection", self.discipline_qa.selection)):
            if not 0 < sel.sample_rate <= 1:
                raise ValueError(f"{where}.sample_rate must be in (0, 1], got {sel.sample_rate}")
        if not 0 < self.summaries.min_coverage <= 1:
            raise ValueError("summaries.min_coverage must be in (0, 1]")

    def template_name(self, step: str) -> str:
        return {CHUNKS: self.chunks.template, SUMMARIES: self.summaries.template, COT: self.cot.template,
                DISCIPLINE_QA: self.discipline_qa.template}[step]

    def templates(self) -> dict:
        return load_templates(self.prompts_dir, [self.template_name(s) for s in STEPS])

    def step_version(self, step: str) -> str:
        """Hash of what decides a step's outputs: its section, the shared knobs it uses, its template's
        text. The ``param_version`` of its rows and the folder of its resumable parts."""
        shared = {"seed": self.seed, "max_attempts": self.max_attempts}
        if step in (CHUNKS, COT):
            shared["selection"] = dataclasses.asdict(self.selection)
        if step == COT:
            shared["min_coverage"] = self.summaries.min_coverage
        section = dataclasses.asdict(getattr(self, step))
        template = load_templates(self.prompts_dir, [self.template_name(step)])[self.template_name(step)]
        payload = {"step": step, "section": section, "shared": shared, "template": template.file_sha256}
        return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()[:12]


def _fields(cls, data, where: str) -> dict:
    data = data or {}
    if not isinstance(data, dict):
        raise TypeError(f"{where}: expected a mapping, got {type(data).__name__}")
    refuse_unknown_keys(data, {f.name for f in dataclasses.fields(cls)}, where)
    return dict(data)


def _selection(data, where: str) -> SelectionConfig:
    raw = _fields(SelectionConfig, data, where)
    for key in ("buckets", "categories"):
        if raw.get(key) is not None:
            raw[key] = tuple(str(v) for v in raw[key])
    return SelectionConfig(**raw)


def _with_sampling(cls, data, where: str, default: SamplingConfig):
    raw = _fields(cls, data, where)
    if "sampling" in raw:
        raw["sampling"] = dataclasses.replace(default, **_fields(SamplingConfig, raw["sampling"], f"{where}.sampling"))
    return raw


def _two_pass(data, where: str, default: TwoPassConfig) -> TwoPassConfig:
    raw = _fields(TwoPassConfig, data, where)
    if "sampling" in raw:
        raw["sampling"] = dataclasses.replace(default.sampling, **_fields(SamplingConfig, raw["sampling"],
                                                                          f"{where}.sampling"))
    if "stop" in raw:
        raw["stop"] = tuple(str(v) for v in raw["stop"] or ())
    return dataclasses.replace(default, **raw)


def load_synthesis_config(path: Path) -> SynthesisConfig:
    """Read ``configs/synthesis.yaml``; a relative ``prompts_dir`` is resolved against the file's folder."""
    path = Path(path)
    top = _fields(SynthesisConfig, yaml.safe_load(path.read_text(encoding="utf-8")), str(path))
    if "selection" in top:
        top["selection"] = _selection(top["selection"], f"{path}: selection")
    for key, cls in (("chunks", ChunkConfig), ("summaries", SummaryConfig), ("cot", CotConfig)):
        if key in top:
            raw = _with_sampling(cls, top[key], f"{path}: {key}", cls().sampling)
            if "two_pass" in raw:
                raw["two_pass"] = _two_pass(raw["two_pass"], f"{path}: {key}.two_pass", cls().two_pass)
            top[key] = cls(**raw)
    if "discipline_qa" in top:
        raw = _with_sampling(DisciplineQAConfig, top["discipline_qa"], f"{path}: discipline_qa",
                             DisciplineQAConfig().sampling)
        if "selection" in raw:
            raw["selection"] = _selection(raw["selection"], f"{path}: discipline_qa.selection")
        if "two_pass" in raw:
            raw["two_pass"] = _two_pass(raw["two_pass"], f"{path}: discipline_qa.two_pass",
                                        DisciplineQAConfig().two_pass)
        for key in ("disciplines", "by_kind"):
            if key in raw:
                raw[key] = {str(k): str(v) for k, v in (raw[key] or {}).items()}
        top["discipline_qa"] = DisciplineQAConfig(**raw)
    if "prompts_dir" in top:
        top["prompts_dir"] = (path.parent / top["prompts_dir"]).resolve()
    return SynthesisConfig(**top)
