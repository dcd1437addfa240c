"""The rewriting stage's knobs, with paper defaults, loadable from ``configs/rewrite.yaml``.

Routing: a document's *kind* (prose / code / math, from what it is, see ``kinds.py``) and its
quality bucket pick the styles it is rewritten in. The defaults follow Nemotron-CC (Su et al.
2024, Sec. 3.2): low-quality prose is rephrased Wikipedia-style, high-quality prose gets the
other four styles; code and math get SwallowCode / SwallowMath rewriting (Fujii et al. 2025).
A category can force its kind or replace its routes, never needed for the defaults to work.
"""

import dataclasses
import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from curation.config_keys import refuse_unknown_keys
from curation.rewrite.kinds import KindConfig
from curation.rewrite.prompts import KINDS, load_templates
from curation.rewrite.validate import FaithfulnessConfig, ValidationConfig

DEFAULT_PROMPTS_DIR = Path(__file__).resolve().parents[2] / "configs" / "prompts"
MAGA = "maga"  # the style family that expands into one variant per (genre, audience) pair

NEMOTRON_ROUTES = {
    "prose": {
        "high": ("diverse_qa_pairs", "distill", "extract_knowledge", "knowledge_list"),
        "low": ("wrap_medium",),
    },
    "code": {"high": ("code_style_guided", "code_self_contained"), "mid": ("code_style_guided",)},
    "math": {"high": ("math_step_by_step",), "mid": ("math_step_by_step",)},
}


@dataclass(frozen=True)
class SelectionConfig:
    # the column holding the bucket routes are keyed by (the scoring stage's Nemotron-CC bucket);
    # None puts every document in the bucket "all"
    column: str | None = "quality_bucket"
    # budget caps (None = no cap): documents per (style, bucket) and per category
    max_docs_per_style: int | None = None
    max_docs_per_category: int | None = None
    # deterministic sampling on a hash of the id, before the caps (1.0 keeps all)
    sample_rate: float = 1.0
    # shorter documents carry too little to rephrase (our choice)
    min_chars: int = 100
    max_chars: int | None = None


@dataclass(frozen=True)
class ChunkingConfig:
    # WRAP (Maini et al. 2024, Sec. 3): ~300-token pieces; longer outputs lost information
    chunk_tokens: int = 300
    # Kimi K2 (seed 003): chunk i is rewritten with the tail of the rewritten chunks 0..i-1 in context
    context_tokens: int = 200
    # source tokens of the previous chunk shown beside that context, so a chunk boundary reads on (our choice)
    overlap_tokens: int = 0
    # beyond this a document is dropped as too long (a budget, not a method limit)
    max_chunks_per_doc: int = 8


@dataclass(frozen=True)
class SamplingConfig:
    temperature: float = 0.7  # sampling, so a retry with another seed can differ (our choice)
    top_p: float = 0.9  # Nemotron-CC samples its rewrites with nucleus sampling (Su et al. 2024, Sec. 3.2)
    max_new_tokens: int = 512
    # 1.0: off. > 1 discounts tokens already seen; CTRL (Keskar et al. 2019) found 1.2 curbs the loops
    # small models fall into when sampling
    repetition_penalty: float = 1.0


@dataclass(frozen=True)
class CodeConfig:
    # SwallowCode (Fujii et al. 2025, Sec. 3.1): Python that does not compile is dropped (`syntax_error`)
    syntax_gate: bool = True
    # SwallowCode filters by pylint score >= 7; we compute the same 0-10 score formula from ruff's
    # findings (ruff is ~100x faster); None turns the filter off. A proxy for pylint: named so in metadata.
    min_lint_score: float | None = 7.0


@dataclass(frozen=True)
class MagaConfig:
    # MAGA (Hao et al. 2025) expands each document into several (genre, audience) reformulations
    pairs: tuple[tuple[str, str], ...] = (("textbook section", "high school students"),)


@dataclass(frozen=True)
class CategoryOverride:
    kind: str | None = None  # force every document of the category to this kind
    routes: dict | None = None  # replace the kind's routes for this category: {bucket: [styles]}


@dataclass(frozen=True)
class RewriteConfig:
    # the model and backend (vLLM / transformers) come from the LLM resource, shared with training and eval
    routes: dict = field(default_factory=lambda: NEMOTRON_ROUTES)
    categories: dict = field(default_factory=dict)
    prompts_dir: Path = DEFAULT_PROMPTS_DIR
    chunking: ChunkingConfig = field(default_factory=ChunkingConfig)
    sampling: SamplingConfig = field(default_factory=SamplingConfig)
    # per-style overrides of `sampling` (vLLM gets one SamplingParams per style)
    style_sampling: dict = field(default_factory=dict)
    seed: int = 0
    # bounded retries with a new seed (seed 003: 错误重试); at temperature 0 a retry would repeat itself
    max_attempts: int = 3
    # WRAP mixes real and synthetic data: synthetic alone hurt perplexity (Maini et al. 2024, Sec. 6)
    keep_originals: bool = True
    selection: SelectionConfig = field(default_factory=SelectionConfig)
    validation: ValidationConfig = field(default_factory=ValidationConfig)
    kinds: KindConfig = field(default_factory=KindConfig)
    code: CodeConfig = field(default_factory=CodeConfig)
    maga: MagaConfig = field(default_factory=MagaConfig)

    def __post_init__(self):
        if self.max_attempts < 1 or self.chunking.chunk_tokens < 16 or self.sampling.max_new_tokens < 1:
            raise ValueError("max_attempts >= 1, chunking.chunk_tokens >= 16 and max_new_tokens >= 1 are required")
        if not 0 < self.selection.sample_rate <= 1:
            raise ValueError(f"selection.sample_rate must be in (0, 1], got {self.selection.sample_rate}")
        for kind in self.routes:
            if kind not in KINDS:
                raise ValueError(f"routes: unknown document kind {kind!r}; kinds are {KINDS}")
        for name, override in self.categories.items():
            if override.kind is not None and override.kind not in KINDS:
                raise ValueError(f"categories.{name}.kind {override.kind!r} is not one of {KINDS}")
        unknown = set(self.style_sampling) - set(self.styles())
        if unknown:
            raise ValueError(f"style_sampling names styles no route uses: {sorted(unknown)}")

    def styles(self) -> tuple[str, ...]:
        """Every template a route names (MAGA once), in a stable order."""
        names: dict[str, None] = {}
        route_sets = list(self.routes.values()) + [o.routes for o in self.categories.values() if o.routes]
        for buckets in route_sets:
            for styles in buckets.values():
                names.update(dict.fromkeys(styles))
        return tuple(names)

    def routes_for(self, category: str, kind: str) -> dict[str, tuple[str, ...]]:
        override = self.categories.get(category)
        if override is not None and override.routes is not None:
            return override.routes
        return self.routes.get(kind, {})

    def kind_override(self, category: str) -> str | None:
        override = self.categories.get(category)
        return override.kind if override is not None else None

    def sampling_for(self, style: str) -> SamplingConfig:
        return dataclasses.replace(self.sampling, **self.style_sampling.get(style, {}))

    def as_dict(self) -> dict:
        data = dataclasses.asdict(self)
        data.pop("prompts_dir")  # where the templates live is not what they say: their text is hashed instead
        return data

    @property
    def version(self) -> str:
        """Short hash of every knob and of the text of every template a route uses: the asset's code
        version and the ``param_version`` on drop rows, so editing a prompt marks the stage stale."""
        templates = load_templates(self.prompts_dir, self.styles())
        payload = {"config": self.as_dict(), "templates": {n: t.file_sha256 for n, t in sorted(templates.items())}}
        return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()[:12]


def maga_label(genre: str, audience: str) -> str:
    """Style label of one MAGA variant, usable inside a slice name (``[A-Za-z0-9_.-]``)."""
    slug = lambda s: re.sub(r"[^a-z0-9]+", "_", s.casefold()).strip("_")
    return f"{MAGA}-{slug(genre)}-{slug(audience)}"


def _fields(cls, data: dict, where: str) -> dict:
    refuse_unknown_keys(data, {f.name for f in dataclasses.fields(cls)}, where)
    return dict(data)


def _routes(data: dict, where: str) -> dict:
    return {bucket: tuple(styles or ()) for bucket, styles in (data or {}).items()} if data is not None else None


def load_rewrite_config(path: Path) -> RewriteConfig:
    """Read ``configs/rewrite.yaml``; a relative ``prompts_dir`` is resolved against the file's folder."""
    path = Path(path)
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    top = _fields(RewriteConfig, data, str(path))
    nested = {
        "selection": SelectionConfig,
        "chunking": ChunkingConfig,
        "sampling": SamplingConfig,
        "kinds": KindConfig,
        "code": CodeConfig,
    }
    for key, cls in nested.items():
        if key in top:
            top[key] = cls(**_fields(cls, top[key] or {}, f"{path}: {key}"))
    if "validation" in top:
        raw = _fields(ValidationConfig, top["validation"] or {}, f"{path}: validation")
        if "faithfulness" in raw:
            raw["faithfulness"] = FaithfulnessConfig(
                **_fields(FaithfulnessConfig, raw["faithfulness"] or {}, f"{path}: validation.faithfulness")
            )
        top["validation"] = ValidationConfig(**raw)
    if "maga" in top:
        maga = _fields(MagaConfig, top["maga"] or {}, f"{path}: maga")
        top["maga"] = MagaConfig(pairs=tuple(tuple(p) for p in maga.get("pairs", ())))
    if "routes" in top:
        top["routes"] = {kind: _routes(buckets, f"{path}: routes.{kind}") for kind, buckets in top["routes"].items()}
    if "categories" in top:
        top["categories"] = {
            name: CategoryOverride(
                kind=(o := _fields(CategoryOverride, spec or {}, f"{path}: categories.{name}")).get("kind"),
                routes=_routes(o.get("routes"), f"{path}: categories.{name}.routes"),
            )
            for name, spec in top["categories"].items()
        }
    if "style_sampling" in top:
        top["style_sampling"] = {
            style: _fields(SamplingConfig, spec or {}, f"{path}: style_sampling.{style}")
            for style, spec in top["style_sampling"].items()
        }
    if "prompts_dir" in top:
        top["prompts_dir"] = (path.parent / top["prompts_dir"]).resolve()
    return RewriteConfig(**top)
