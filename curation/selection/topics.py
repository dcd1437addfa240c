"""Topic labels by embedding similarity to the topics' descriptions (seed 002's topic-based mixture).

Each topic of a taxonomy (configs/topics.yaml) is a description and a few keyword phrases; they are
embedded once with the stage's (multilingual) embedder. A document's score for a topic is the cosine of
its embedding to the topic's phrases (their ``max``, or the cosine to their ``centroid``); its label is
the best topic, or the taxonomy's fallback (``others``) when even the best score is below
``min_similarity``; its probabilities are ``softmax(scores / temperature)``. The document's language
(the scoring stage's ``lang``) picks the taxonomy. Accuracy is measured on documents whose topic is
known from their source (bench/selection/run.py).
"""

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import yaml

from curation.config_keys import refuse_unknown_keys
from curation.document import validate_category
from curation.embeddings import Embedder
from curation.selection.config import SelectionConfigError, TopicConfig

_TOPIC_KEYS = ("description", "keywords")
_TOP_KEYS = ("default_taxonomy", "fallback_topic", "taxonomies", "bounds")


@dataclass(frozen=True)
class Topic:
    name: str
    description: str
    keywords: tuple[str, ...] = ()

    @property
    def phrases(self) -> list[str]:
        return [self.description, *self.keywords]


@dataclass(frozen=True)
class Taxonomy:
    """Topics per language; ``bounds``: topic -> (min share, max share) for the selection check."""

    taxonomies: dict[str, tuple[Topic, ...]]
    default: str = "en"
    fallback: str = "others"
    bounds: dict[str, tuple[float, float]] | None = None
    source: str | None = None

    def language_of(self, lang: str | None) -> str:
        return lang if lang in self.taxonomies else self.default

    def topic_names(self) -> list[str]:
        """Every topic of every taxonomy, each once, in file order."""
        return list(dict.fromkeys(t.name for topics in self.taxonomies.values() for t in topics))


def load_taxonomy(path: str | Path) -> Taxonomy:
    path = Path(path)
    raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    refuse_unknown_keys(raw, _TOP_KEYS, str(path), "taxonomy keys", SelectionConfigError)
    fallback = str(raw.get("fallback_topic", "others"))
    taxonomies = {}
    for lang, topics in (raw.get("taxonomies") or {}).items():
        parsed = []
        for name, spec in (topics or {}).items():
            where = f"{path} taxonomies.{lang}.{name}"
            refuse_unknown_keys(spec or {}, _TOPIC_KEYS, where, "topic keys", SelectionConfigError)
            try:
                validate_category(str(name))  # topic names become mixture slice suffixes
            except ValueError as exc:
                raise SelectionConfigError(f"{where}: {exc}") from exc
            if not (spec or {}).get("description"):
                raise SelectionConfigError(f"{where}: a topic needs a description")
            parsed.append(Topic(str(name), str(spec["description"]), tuple(str(k) for k in spec.get("keywords") or ())))
        if fallback not in {t.name for t in parsed}:
            raise SelectionConfigError(f"{path} taxonomies.{lang}: needs the fallback topic {fallback!r}")
        taxonomies[str(lang)] = tuple(parsed)
    default = str(raw.get("default_taxonomy", "en"))
    if default not in taxonomies:
        raise SelectionConfigError(f"{path}: default_taxonomy {default!r} is not one of {sorted(taxonomies)}")
    bounds = {}
    for name, b in (raw.get("bounds") or {}).items():
        refuse_unknown_keys(b or {}, ("min", "max"), f"{path} bounds.{name}", "bound keys", SelectionConfigError)
        lo, hi = float((b or {}).get("min", 0.0)), float((b or {}).get("max", 1.0))
        if not 0 <= lo <= hi <= 1:
            raise SelectionConfigError(f"{path} bounds.{name}: need 0 <= min <= max <= 1, got {lo}, {hi}")
        bounds[str(name)] = (lo, hi)
    return Taxonomy(taxonomies, default, fallback, bounds, str(path))


class TopicClassifier:
    """Labels embedded documents with a taxonomy's topics (see the module docstring)."""

    def __init__(self, taxonomy: Taxonomy, embedder: Embedder, config: TopicConfig | None = None):
        self.taxonomy, self.config = taxonomy, config or TopicConfig()
        self._phrases: dict[str, tuple[list[str], np.ndarray, np.ndarray]] = {}
        for lang, topics in taxonomy.taxonomies.items():
            texts = [p for t in topics for p in t.phrases]
            owner = np.array([i for i, t in enumerate(topics) for _ in t.phrases])
            emb = np.asarray(embedder(texts), dtype=np.float32)
            emb /= np.maximum(np.linalg.norm(emb, axis=1, keepdims=True), 1e-12)
            self._phrases[lang] = ([t.name for t in topics], emb, owner)

    def names(self, lang: str) -> list[str]:
        return self._phrases[self.taxonomy.language_of(lang)][0]

    def scores(self, emb: np.ndarray, lang: str) -> np.ndarray:
        """(n, topics) cosine scores of unit-norm document embeddings against one taxonomy."""
        names, phrases, owner = self._phrases[self.taxonomy.language_of(lang)]
        sims = np.asarray(emb, dtype=np.float32) @ phrases.T
        out = np.empty((sims.shape[0], len(names)), dtype=np.float32)
        for i in range(len(names)):
            cols = sims[:, owner == i]
            if self.config.score == "max":
                out[:, i] = cols.max(axis=1)
            else:
                centre = phrases[owner == i].mean(axis=0)
                out[:, i] = (emb @ centre) / max(float(np.linalg.norm(centre)), 1e-12)
        return out

    def classify(self, emb: np.ndarray, langs: list[str | None]) -> tuple[list[str], np.ndarray, np.ndarray]:
        """(topic, confidence = its softmax probability, best cosine) per document."""
        n = len(langs)
        topics: list[str] = [""] * n
        confidence = np.zeros(n, dtype=np.float64)
        best = np.zeros(n, dtype=np.float64)
        keys = np.array([self.taxonomy.language_of(lang) for lang in langs], dtype=object)
        for lang in dict.fromkeys(keys.tolist()):
            idx = np.flatnonzero(keys == lang)
            names = self._phrases[lang][0]
            scores = self.scores(np.asarray(emb[idx]), lang)
            z = scores / self.config.temperature
            probs = np.exp(z - z.max(axis=1, keepdims=True))
            probs /= probs.sum(axis=1, keepdims=True)
            arg = scores.argmax(axis=1)
            fallback = names.index(self.taxonomy.fallback)
            for j, i in enumerate(idx):
                top = scores[j, arg[j]]
                label = arg[j] if top >= self.config.min_similarity else fallback
                topics[i] = names[label]
                confidence[i] = probs[j, label]
                best[i] = top
        return topics, confidence, best
