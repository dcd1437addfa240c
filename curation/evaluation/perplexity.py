"""Held-out perplexity per category: token-weighted mean next-token NLL over held-out documents.

Each document is scored as it is trained on: preceded by EOS (the end of the previous document
in a packed stream) and followed by EOS; its tokens are cut into non-overlapping windows of
``seq_len`` so every token is predicted exactly once. Cost is capped per category by
``max_tokens_per_category`` (documents are taken in order until the cap, the last one cut).
Comparing base and trained rows category by category shows what continued pretraining gained
and what it forgot (seed 002: catastrophic forgetting, per-category PPL change).
"""

import math
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from curation.mixture.tokens import encode_texts, eos_token_id

OVERALL = "__overall__"  # the token-weighted row over all categories


def _windows(tokens: np.ndarray, seq_len: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """(inputs, targets) pairs covering ``tokens[1:]`` as targets, at most ``seq_len`` each."""
    return [(tokens[i : i + seq_len], tokens[i + 1 : i + 1 + seq_len]) for i in range(0, len(tokens) - 1, seq_len)]


def _nll_sum(model, windows: list[tuple[np.ndarray, np.ndarray]], pad_id: int, device) -> float:
    import torch
    import torch.nn.functional as F

    width = max(len(x) for x, _ in windows)
    inputs = torch.full((len(windows), width), pad_id, dtype=torch.long)
    labels = torch.full((len(windows), width), -100, dtype=torch.long)
    mask = torch.zeros((len(windows), width), dtype=torch.long)
    for row, (x, y) in enumerate(windows):
        inputs[row, : len(x)] = torch.from_numpy(x)
        labels[row, : len(y)] = torch.from_numpy(y)
        mask[row, : len(x)] = 1
    logits = model(input_ids=inputs.to(device), attention_mask=mask.to(device)).logits
    return F.cross_entropy(
        logits.float().reshape(-1, logits.shape[-1]), labels.to(device).reshape(-1), ignore_index=-100, reduction="sum"
    ).item()


def _load(model_or_dir):
    if isinstance(model_or_dir, str | Path):
        from curation.lm.models import default_device, load_causal_lm

        tokenizer, model = load_causal_lm(Path(model_or_dir), default_device())
        return tokenizer, model, Path(model_or_dir).name
    tokenizer, model = model_or_dir
    return tokenizer, model, str(getattr(model, "name_or_path", "") or type(model).__name__)


def heldout_perplexity(
    model_or_dir,
    texts_by_category: Mapping[str, Sequence[str]],
    max_tokens_per_category: int = 20_000,
    seq_len: int = 256,
    model_name: str | None = None,
    batch_size: int = 8,
    eod: int | None = None,
) -> list[dict]:
    """Rows ``{model, metric, category, value, n_docs, n_tokens}`` with metric "loss" (mean NLL, nats a
    token) and "perplexity" (exp of it), per category and ``__overall__`` (token-weighted).

    ``model_or_dir``: an HF model directory or a ``(tokenizer, model)`` pair. ``eod``: the document
    separator the mixture was written with (``stats["eod_token_id"]``); the tokenizer's EOS when None.
    """
    import torch

    if max_tokens_per_category < 1 or seq_len < 1:
        raise ValueError("max_tokens_per_category and seq_len must be >= 1")
    tokenizer, model, default_name = _load(model_or_dir)
    name = model_name or default_name
    eos = eos_token_id(tokenizer) if eod is None else eod
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    rows, total_nll, total_tokens, total_docs = [], 0.0, 0, 0
    try:
        with torch.inference_mode():
            for category in sorted(texts_by_category):
                nll, n_tokens, n_docs, pending = 0.0, 0, 0, []
                for ids in encode_texts(tokenizer, list(texts_by_category[category])):
                    budget = max_tokens_per_category - n_tokens
                    if budget <= 0:
                        break
                    if ids.size == 0:
                        continue
                    stream = np.concatenate([[eos], ids, [eos]])[: budget + 1]
                    pending.extend(_windows(stream, seq_len))
                    n_tokens += len(stream) - 1
                    n_docs += 1
                    while len(pending) >= batch_size:
                        nll += _nll_sum(model, pending[:batch_size], eos, device)
                        pending = pending[batch_size:]
                if pending:
                    nll += _nll_sum(model, pending, eos, device)
                if n_tokens == 0:
                    continue  # no scorable text in this category: no row rather than a fake one
                rows += _rows(name, category, nll / n_tokens, n_docs, n_tokens)
                total_nll, total_tokens, total_docs = total_nll + nll, total_tokens + n_tokens, total_docs + n_docs
    finally:
        model.train(was_training)
    if total_tokens:
        rows += _rows(name, OVERALL, total_nll / total_tokens, total_docs, total_tokens)
    return rows


def _rows(model: str, category: str, loss: float, n_docs: int, n_tokens: int) -> list[dict]:
    common = {"model": model, "category": category, "n_docs": n_docs, "n_tokens": n_tokens}
    return [{**common, "metric": "loss", "value": loss}, {**common, "metric": "perplexity", "value": math.exp(loss)}]


def forgetting_rows(base_rows: list[dict], trained_rows: list[dict], model: str | None = None) -> list[dict]:
    """Per category ``loss_delta`` = trained - base loss (> 0: the trained model got worse there, i.e.
    forgot) and ``perplexity_ratio`` = trained / base perplexity."""
    base = {(r["category"], r["metric"]): r for r in base_rows}
    out = []
    for r in trained_rows:
        b = base.get((r["category"], r["metric"]))
        if b is None:
            continue
        metric, value = (
            ("loss_delta", r["value"] - b["value"])
            if r["metric"] == "loss"
            else ("perplexity_ratio", r["value"] / b["value"])
        )
        out.append({**r, "model": model or r["model"], "metric": metric, "value": value})
    return out
