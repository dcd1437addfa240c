"""Perplexity under an n-gram LM trained on a high-quality reference set (CCNet, Wenzek et al.
2020, §3.3; seed 001's perplexity scoring).

Training: kaldingram (pure-Python modified Kneser-Ney) writes an ARPA file; querying: KenLM.
kaldingram's ARPA has no ``<unk>``, and KenLM then gives every out-of-vocabulary word
log10 p = -100, which makes any document with one rare word look like garbage. We add an
``<unk>`` unigram with the log-probability of the rarest word the model saw (an unseen word is
no likelier than a singleton), or a fixed value if given.

Tokens (CCNet-like normalisation): lower case, digits mapped to 0, words from TextStats'
tokenizer — so Chinese is scored by characters. A document is scored line by line (each line
a sentence with <s> … </s>) and its perplexity is 10 ** (-total log10 p / total tokens).
"""

import math
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from curation.scoring.text_stats import normalized_words


@dataclass(frozen=True)
class KenLMConfig:
    order: int = 4  # our choice for a small reference set; CCNet uses 5-grams on Wikipedia
    max_chars: int = 20_000  # score the first 20k chars: perplexity settles long before, cost is linear
    oov_log10_prob: float | None = None  # None: the rarest training word's log10 p (see module doc)


def lm_lines(text: str) -> list[str]:
    """Each non-empty line as space-separated LM tokens."""
    return [t for t in (normalized_words(line) for line in text.splitlines()) if t]


def train_kenlm(
    reference_texts: Iterable[str], order: int, out_dir: Path, oov_log10_prob: float | None = None
) -> tuple[Path, dict]:
    """Train a Kneser-Ney ``order``-gram model on the reference texts; every 10th text is held out
    to report held-out perplexity. Returns (ARPA path, metrics)."""
    from kaldingram.train import NgramCounts  # pure Python, only needed for training

    if not 1 <= order <= 5:
        raise ValueError(f"kaldingram trains orders 1..5, got {order}")
    t0 = time.perf_counter()
    counts = NgramCounts(order)
    held_out: list[str] = []
    n_docs = n_lines = n_tokens = 0
    for i, text in enumerate(reference_texts):
        if i % 10 == 9:
            held_out.append(text)
            continue
        for line in lm_lines(text):
            counts.add_raw_counts_from_line(line)
            n_lines += 1
            n_tokens += line.count(" ") + 1
        n_docs += 1
    if n_tokens == 0:
        raise ValueError("train_kenlm: the reference texts contain no words")
    counts.cal_discounting_constants()
    counts.cal_f()
    counts.cal_bow()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"reference.{order}gram.arpa"
    tmp = path.with_suffix(".arpa.tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        counts.print_as_arpa(fout=f)
    unk = add_unk(tmp, oov_log10_prob)
    tmp.replace(path)
    scorer = KenLMScorer(path, KenLMConfig(order=order))
    metrics = {
        "order": order,
        "train_docs": n_docs,
        "train_lines": n_lines,
        "train_tokens": n_tokens,
        "vocab_size": len(counts.counts[0][()].word_to_count),
        "unk_log10_prob": unk,
        "held_out_docs": len(held_out),
        "held_out_ppl": scorer.corpus_perplexity(held_out) if held_out else None,
        "train_seconds": round(time.perf_counter() - t0, 2),
        "arpa_bytes": path.stat().st_size,
    }
    return path, metrics


def add_unk(arpa_path: Path, log10_prob: float | None) -> float:
    """Insert an ``<unk>`` unigram into an ARPA file lacking one; returns its log10 p."""
    lines = Path(arpa_path).read_text(encoding="utf-8").split("\n")
    start = lines.index("\\1-grams:")
    end = lines.index("", start)
    if any(line.split("\t")[1:2] == ["<unk>"] for line in lines[start + 1 : end]):
        raise ValueError(f"{arpa_path} already has <unk>")
    if log10_prob is None:  # the rarest seen word (<s> is -99 by convention: skip it)
        log10_prob = min(float(line.split("\t")[0]) for line in lines[start + 1 : end] if "\t<s>" not in line)
    lines.insert(start + 1, f"{log10_prob:.7f}\t<unk>")
    header = next(i for i, line in enumerate(lines) if line.startswith("ngram 1="))
    lines[header] = f"ngram 1={int(lines[header].split('=')[1]) + 1}"
    Path(arpa_path).write_text("\n".join(lines), encoding="utf-8")
    return log10_prob


class KenLMScorer:
    """Perplexity of documents under a KenLM-readable ARPA or binary model."""

    def __init__(self, path: Path | str, cfg: KenLMConfig = KenLMConfig()):
        import kenlm

        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"KenLM model not found: {path} (train one with train_kenlm)")
        self.cfg = cfg
        self.path = path
        self._model = kenlm.Model(str(path))

    def log10_prob_and_tokens(self, text: str) -> tuple[float, int]:
        total, n = 0.0, 0
        score = self._model.score
        for line in lm_lines(text[: self.cfg.max_chars]):
            total += score(line, bos=True, eos=True)
            n += line.count(" ") + 2  # the words plus </s>
        return total, n

    def perplexity(self, text: str) -> float:
        """10 ** (-mean log10 p per token); NaN for a document without words."""
        total, n = self.log10_prob_and_tokens(text)
        return 10 ** (-total / n) if n else math.nan

    def corpus_perplexity(self, texts: Iterable[str]) -> float:
        total, n = 0.0, 0
        for text in texts:
            t, k = self.log10_prob_and_tokens(text)
            total, n = total + t, n + k
        return 10 ** (-total / n) if n else math.nan
