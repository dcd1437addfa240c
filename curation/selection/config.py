"""configs/selection.yaml as frozen dataclasses: every knob of the selection stage, unknown keys refused.

Sections: ``embedding`` (what is embedded), ``topics`` (the classifier), ``quality`` (the per-document
sampling weight), ``diversity`` (clusters and their weights), ``budget`` (how much to keep), ``domains``
(seed-document recall). ``version`` is a hash of everything, stored with each decision.
"""

import hashlib
import json
import math
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

import yaml

from curation.config_keys import refuse_unknown_keys

QUALITY_MODES = ("softmax", "thresholds")
QUALITY_SCORES = ("ensemble_bucket", "dclm_score", "edu_score")
DIVERSITY_METHODS = ("cluster", "knn", "none")
K_RULES = ("sqrt", "silhouette")
BUDGET_UNITS = ("tokens", "docs")


class SelectionConfigError(ValueError):
    """A selection config that cannot be used as written."""


@dataclass(frozen=True)
class EmbeddingConfig:
    # seed 004 (垂域数据扩充): similarity over a document's first 512 tokens (words; one per CJK character);
    # the embedder resource's max_chars cuts further (1000 characters: ~200 English words, CPU-bound)
    prefix_tokens: int = 512
    batch_size: int = 64
    cache: bool = True  # reuse vectors by text digest ($CORPUSFORGE_HOME/state/embeddings)


@dataclass(frozen=True)
class TopicConfig:
    taxonomy: str = "topics.yaml"  # relative to the configs directory
    language_column: str = "lang"
    # a document's topic score is its cosine to each topic's description and keyword phrases: "max" of
    # them or the cosine to their "centroid" (bench/selection measures both)
    score: str = "max"
    # best cosine below this: the fallback topic (measured: bench/selection/run.py)
    min_similarity: float = 0.1
    # topic probabilities = softmax(cosines / temperature) over the taxonomy
    temperature: float = 0.05


@dataclass(frozen=True)
class Threshold:
    min_score: float
    weight: float


@dataclass(frozen=True)
class QualityConfig:
    # softmax: w = bucket_weight[bucket] * exp((s - 1) / temperature), s the score scaled to [0, 1]
    # thresholds: w = bucket_weight[bucket] * the weight of the highest threshold s reaches (else floor)
    mode: str = "softmax"
    score: str = "ensemble_bucket"  # Nemotron-CC 0..19 (max over classifiers); or dclm_score / edu_score
    temperature: float = 0.35  # s = 0.5 weighs exp(-1.43) = 0.24 of s = 1
    bucket_weights: dict[str, float] = field(default_factory=lambda: {"high": 1.0, "mid": 0.6, "low": 0.3})
    thresholds: tuple[Threshold, ...] = ()
    # w *= topic_confidence ** power (0: the classifier's confidence does not matter)
    topic_confidence_power: float = 0.0
    # no document gets less (seed 000: mid/low are sampled by score, not dropped)
    floor: float = 0.01


@dataclass(frozen=True)
class DiversityConfig:
    # seed 004 method 2 ("cluster": per-cluster weight = 1 / mean intra-cluster cosine) or method 3
    # ("knn": per-document weight = 1 / (1 + in-cluster neighbours above knn_threshold)); "none": quality only
    method: str = "cluster"
    k: int | None = None  # None: from the data by k_rule
    # sqrt: k = sqrt(n / 2) (Mardia et al. 1979's rule of thumb); silhouette: the best cosine silhouette
    # (Rousseeuw 1987) among k/2, k, 2k on a sample
    k_rule: str = "sqrt"
    k_min: int = 2
    k_max: int = 256
    silhouette_sample: int = 2000
    # seed 004's warning: similarity across a cluster boundary can exceed similarity inside one;
    # clusters whose centroids' cosine is above this are merged
    merge_similarity: float = 0.9
    # budget share of a cluster ~ size ** size_power * diversity weight * mean quality weight
    # (1: proportional to size, tilted; 0: every cluster alike)
    size_power: float = 0.5
    min_mean_similarity: float = 0.05  # caps the weight of a loose cluster (and of a singleton) at 20
    knn_neighbours: int = 10
    knn_threshold: float = 0.8  # seed 004: neighbours "within 80 %" similarity count against a document
    seed: int = 0


@dataclass(frozen=True)
class BudgetConfig:
    unit: str = "tokens"
    fraction: float | None = 0.8  # of the category's available units
    value: int | None = None  # absolute; wins over fraction


@dataclass(frozen=True)
class DomainConfig:
    name: str
    seeds: str  # a folder of shards (jsonl / jsonl.gz / jsonl.zst / parquet with `text`)
    top_k: int = 10  # seed 004: the 10 most similar documents per seed document
    min_similarity: float = 0.5
    boost: float = 2.0  # multiplies the selection and sample weight of a recalled document


@dataclass(frozen=True)
class SelectionConfig:
    embedding: EmbeddingConfig = EmbeddingConfig()
    topics: TopicConfig = TopicConfig()
    quality: QualityConfig = QualityConfig()
    diversity: DiversityConfig = DiversityConfig()
    budget: BudgetConfig = BudgetConfig()
    domains: tuple[DomainConfig, ...] = ()
    seed: int = 1234
    source: str | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        q, d, b, t = self.quality, self.diversity, self.budget, self.topics
        problems = []
        if q.mode not in QUALITY_MODES:
            problems.append(f"quality.mode must be one of {QUALITY_MODES}, got {q.mode!r}")
        if q.score not in QUALITY_SCORES:
            problems.append(f"quality.score must be one of {QUALITY_SCORES}, got {q.score!r}")
        if not q.temperature > 0:
            problems.append("quality.temperature must be > 0")
        if q.mode == "thresholds" and not q.thresholds:
            problems.append("quality.mode thresholds needs quality.thresholds: [{min_score, weight}, ...]")
        if not 0 < q.floor <= 1:
            problems.append("quality.floor must be in (0, 1]")
        for name, w in {**q.bucket_weights, **{f"threshold {x.min_score}": x.weight for x in q.thresholds}}.items():
            if not (isinstance(w, int | float) and math.isfinite(w) and w >= 0):
                problems.append(f"quality weight of {name!r} must be a finite number >= 0, got {w!r}")
        if d.method not in DIVERSITY_METHODS:
            problems.append(f"diversity.method must be one of {DIVERSITY_METHODS}, got {d.method!r}")
        if d.k_rule not in K_RULES:
            problems.append(f"diversity.k_rule must be one of {K_RULES}, got {d.k_rule!r}")
        if not 1 <= d.k_min <= d.k_max:
            problems.append("need 1 <= diversity.k_min <= diversity.k_max")
        if d.k is not None and d.k < 1:
            problems.append("diversity.k must be >= 1 or null")
        if not -1 <= d.merge_similarity <= 1 or not 0 < d.min_mean_similarity <= 1:
            problems.append("diversity.merge_similarity must be in [-1, 1] and min_mean_similarity in (0, 1]")
        if b.unit not in BUDGET_UNITS:
            problems.append(f"budget.unit must be one of {BUDGET_UNITS}, got {b.unit!r}")
        if b.value is None and (b.fraction is None or not 0 < b.fraction <= 1):
            problems.append("budget needs value (> 0) or fraction in (0, 1]")
        if b.value is not None and (not isinstance(b.value, int) or b.value <= 0):
            problems.append(f"budget.value must be a positive integer, got {b.value!r}")
        if t.score not in ("max", "centroid"):
            problems.append(f"topics.score must be 'max' or 'centroid', got {t.score!r}")
        if not t.temperature > 0:
            problems.append("topics.temperature must be > 0")
        if self.embedding.prefix_tokens < 1 or self.embedding.batch_size < 1:
            problems.append("embedding.prefix_tokens and batch_size must be >= 1")
        names = [dom.name for dom in self.domains]
        if len(set(names)) != len(names):
            problems.append(f"domain names repeat: {names}")
        for dom in self.domains:
            if dom.top_k < 1 or not dom.boost > 0:
                problems.append(f"domain {dom.name!r}: top_k must be >= 1 and boost > 0")
        if problems:
            raise SelectionConfigError("; ".join(problems))

    @property
    def version(self) -> str:
        """Hash of every knob: stored with each decision so it can be traced to its parameters."""
        payload = json.dumps(asdict(self) | {"source": None}, sort_keys=True, default=str)
        return "select-" + hashlib.blake2b(payload.encode(), digest_size=6).hexdigest()


def _section(cls, raw, where: str):
    raw = raw or {}
    if not isinstance(raw, dict):
        raise SelectionConfigError(f"{where} must be a mapping, got {type(raw).__name__}")
    refuse_unknown_keys(raw, [f.name for f in fields(cls)], where, "keys", SelectionConfigError)
    try:
        return cls(**raw)
    except TypeError as exc:
        raise SelectionConfigError(f"{where}: {exc}") from exc


def load_selection_config(path: str | Path) -> SelectionConfig:
    """Read configs/selection.yaml; an unknown key anywhere is refused, naming its section."""
    path = Path(path)
    raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    top = [f.name for f in fields(SelectionConfig) if f.name != "source"]
    refuse_unknown_keys(raw, top, str(path), "selection keys", SelectionConfigError)
    quality = dict(raw.get("quality") or {})
    thresholds = []
    for i, item in enumerate(quality.pop("thresholds", None) or []):
        thresholds.append(_section(Threshold, item, f"{path} quality.thresholds[{i}]"))
    quality_cfg = _section(QualityConfig, quality, f"{path} quality")
    quality_cfg = QualityConfig(**{**asdict(quality_cfg), "thresholds": tuple(thresholds)})
    domains = tuple(_section(DomainConfig, d, f"{path} domains[{i}]") for i, d in enumerate(raw.get("domains") or []))
    return SelectionConfig(
        embedding=_section(EmbeddingConfig, raw.get("embedding"), f"{path} embedding"),
        topics=_section(TopicConfig, raw.get("topics"), f"{path} topics"),
        quality=quality_cfg,
        diversity=_section(DiversityConfig, raw.get("diversity"), f"{path} diversity"),
        budget=_section(BudgetConfig, raw.get("budget"), f"{path} budget"),
        domains=domains,
        seed=int(raw.get("seed", 1234)),
        source=str(path),
    )
