"""A DCLM-style fastText quality classifier (Li et al. 2024, "DataComp-LM", §4.4 / appendix G).

DCLM trains a bigram fastText model with high-quality references as positives and raw web
text as negatives, and keeps documents by P(positive). Here the positives are the caller's
reference set and the negatives the caller's raw documents; a stratified 10 % is held out for
accuracy / F1. The 19 percentile edges of P(positive) over the raw documents are saved beside
the model, for Nemotron-CC's 0..19 buckets (ensemble.py).

Cross-fitted: the negatives are a sample of the very pool the stage then scores, and a fastText model
at 25 epochs remembers its training documents, so a document that was a negative would read as worse
than its unseen twin (on the labelled benchmark, pool documents sampled as negatives scored far below
the same kind of text left out). The negatives are split into ``folds`` by a stable hash of their text;
model k learns from every positive and the negatives outside fold k, and a document is scored by the
model of its own fold, which never saw it. The bucket edges come from these out-of-fold scores.
"""

import json
import random
import tempfile
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from curation.hashing import hash_bytes
from curation.scoring.ensemble import percentile_edges
from curation.scoring.text_stats import normalized_words

POSITIVE, NEGATIVE = "__label__hq", "__label__raw"


@dataclass(frozen=True)
class DCLMTrainConfig:
    word_ngrams: int = 2  # DCLM appendix G: bigram fastText
    dim: int = 100  # fastText default
    # fastText's text-classification tutorial for small sets (10^3-10^4 docs, ours): 25 epochs,
    # lr 0.5-1.0; the 5 / 0.1 defaults underfit them (held-out F1 0.5 vs 0.92 in our tests)
    epoch: int = 25
    lr: float = 0.5
    min_count: int = 1
    bucket: int = 200_000  # hashed n-gram rows; fastText's 2M default makes an 800 MB model
    max_chars: int = 10_000  # training/scoring reads the first 10k chars of a document
    held_out_fraction: float = 0.1
    seed: int = 0
    folds: int = 2  # cross-fitting (module doc); 1: one model trained on every negative


def fasttext_line(text: str, max_chars: int) -> str:
    return normalized_words(text[:max_chars])


def fold_of(line: str, folds: int) -> int:
    """The cross-fitting fold of a document (its fastText line), the same in every process."""
    return hash_bytes(line, "dclm-fold")[0] % folds if folds > 1 else 0


def train_dclm_fasttext(
    positives: Iterable[str], negatives: Iterable[str], out_dir: Path, cfg: DCLMTrainConfig = DCLMTrainConfig()
) -> tuple[Path, dict]:
    """Train the classifier; returns (model path, metrics with held-out accuracy/precision/recall/F1)."""

    t0 = time.perf_counter()
    pos = [t for t in (fasttext_line(x, cfg.max_chars) for x in positives) if t]
    neg = [t for t in (fasttext_line(x, cfg.max_chars) for x in negatives) if t]
    if len(pos) < 2 or len(neg) < 2:
        raise ValueError(f"train_dclm_fasttext needs ≥ 2 non-empty positives and negatives, got {len(pos)}/{len(neg)}")
    rng = random.Random(cfg.seed)
    train, held = [], []
    for label, docs in ((POSITIVE, pos), (NEGATIVE, neg)):
        order = list(range(len(docs)))
        rng.shuffle(order)
        n_held = max(1, round(len(docs) * cfg.held_out_fraction))
        held += [(label, docs[i]) for i in order[:n_held]]
        train += [(label, docs[i]) for i in order[n_held:]]
    rng.shuffle(train)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    models, lr = [], cfg.lr
    for k in range(max(1, cfg.folds)):
        rows = [(label, text) for label, text in train
                if label == POSITIVE or cfg.folds <= 1 or fold_of(text, cfg.folds) != k]
        with tempfile.NamedTemporaryFile("w", suffix=".txt", dir=out_dir, delete=False, encoding="utf-8") as f:
            f.writelines(f"{label} {text}\n" for label, text in rows)
            train_file = Path(f.name)
        try:
            model, lr = _train_retrying_on_nan(train_file, cfg)
        finally:
            train_file.unlink(missing_ok=True)
        models.append(model)
    path = out_dir / "dclm_fasttext.bin"
    names = [path.name] + [f"dclm_fasttext.fold{k}.model" for k in range(1, len(models))]
    for model, name in zip(models, names):
        model.save_model(str(out_dir / name))
    held_p = _p_positive_folded(models, [t for _, t in held], cfg.folds)
    truth = np.array([label == POSITIVE for label, _ in held])
    edges = percentile_edges(_p_positive_folded(models, neg, cfg.folds))
    (out_dir / "dclm_fasttext.meta.json").write_text(json.dumps({"bucket_edges": edges, "max_chars": cfg.max_chars,
                                                                 "folds": names}))
    metrics = {
        "train_docs": len(train),
        "held_out_docs": len(held),
        "positives": len(pos),
        "negatives": len(neg),
        **binary_metrics(truth, held_p >= 0.5),
        "lr": lr,
        "folds": len(models),
        "train_seconds": round(time.perf_counter() - t0, 2),
    }
    return path, metrics


def _train_retrying_on_nan(train_file: Path, cfg: DCLMTrainConfig, attempts: int = 4):
    """fastText aborts with "Encountered NaN" when training diverges. In this wheel it also happens at
    random (about 1 fresh process in 5 at a fixed seed and lr 0.5, on the same data), so each rate is
    tried twice before halving it (fastText's FAQ: lower the lr); returns the model and the rate used."""
    import fasttext

    for attempt in range(attempts):
        lr = cfg.lr / 2 ** (attempt // 2)
        try:
            model = fasttext.train_supervised(
                input=str(train_file), wordNgrams=cfg.word_ngrams, dim=cfg.dim, epoch=cfg.epoch, lr=lr,
                minCount=cfg.min_count, bucket=cfg.bucket, seed=cfg.seed, thread=1, verbose=0,
            )
            return model, lr
        except RuntimeError as exc:
            if "NaN" not in str(exc) or attempt == attempts - 1:
                raise
    raise AssertionError("unreachable")


def binary_metrics(truth: np.ndarray, predicted: np.ndarray) -> dict:
    tp = int(np.sum(truth & predicted))
    fp = int(np.sum(~truth & predicted))
    fn = int(np.sum(truth & ~predicted))
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {
        "accuracy": float(np.mean(truth == predicted)),
        "precision": round(precision, 4),
        "recall": round(recall, 4),
        "f1": round(f1, 4),
    }


def _p_positive_folded(models, lines: list[str], folds: int) -> np.ndarray:
    """P(positive) of each line from the model of its fold (the one that did not train on it)."""
    out = np.empty(len(lines))
    which = np.array([fold_of(line, folds) for line in lines], dtype=np.int64) if len(models) > 1 \
        else np.zeros(len(lines), dtype=np.int64)
    for k, model in enumerate(models):
        idx = np.flatnonzero(which == k)
        if len(idx):
            out[idx] = _p_positive(model, [lines[i] for i in idx])
    return out


def _p_positive(model, lines: list[str]) -> np.ndarray:
    if not lines:
        return np.empty(0)
    labels, probs = model.predict(lines, k=-1)
    p = np.array([dict(zip(ls, ps)).get(POSITIVE, 0.0) for ls, ps in zip(labels, probs)], dtype=np.float64)
    # fastText's softmax adds a 1e-5 smoothing term, so a confident prediction can read 1.00001
    return np.clip(p, 0.0, 1.0)


class DCLMClassifier:
    """P(high quality) of documents, and their 0..19 percentile buckets."""

    def __init__(self, path: Path | str):
        import fasttext

        path = Path(path)
        meta = path.with_name(path.name.replace(".bin", ".meta.json"))
        if not path.is_file() or not meta.is_file():
            raise FileNotFoundError(f"fastText model or its meta file missing: {path}, {meta}")
        info = json.loads(meta.read_text())
        self._models = [fasttext.load_model(str(path.with_name(name))) for name in info.get("folds", [path.name])]
        self.bucket_edges: list[float] = info["bucket_edges"]
        self.max_chars: int = info["max_chars"]

    def scores(self, texts: list[str]) -> np.ndarray:
        lines = [fasttext_line(t, self.max_chars) for t in texts]
        out = np.full(len(lines), np.nan)
        nonempty = [i for i, line in enumerate(lines) if line]
        out[nonempty] = _p_positive_folded(self._models, [lines[i] for i in nonempty], len(self._models))
        return out
