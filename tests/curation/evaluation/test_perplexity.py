import math

import numpy as np
import pytest

from curation.evaluation.perplexity import OVERALL, forgetting_rows, heldout_perplexity
from curation.lm.models import load_causal_lm
from curation.training.config import TrainingConfig
from curation.training.train import train
from tests.curation.training.tiny_lm import chinese_texts, english_texts


def by_key(rows):
    return {(r["category"], r["metric"]): r for r in rows}


def test_perplexity_is_finite_capped_and_token_weighted(tiny_model_dir):
    texts = {"en_docs": english_texts(3), "zh_reviews": chinese_texts(5) + ["", "   "], "empty": [""]}
    rows = by_key(heldout_perplexity(tiny_model_dir, texts, max_tokens_per_category=300, seq_len=64))
    assert ("empty", "loss") not in rows  # nothing to score, no fabricated row
    en, zh, overall = rows[("en_docs", "loss")], rows[("zh_reviews", "loss")], rows[(OVERALL, "loss")]
    assert en["n_tokens"] == 300 and en["n_docs"] == 1  # the first English doc alone exceeds the cap
    assert math.isfinite(en["value"]) and rows[("en_docs", "perplexity")]["value"] == pytest.approx(
        math.exp(en["value"])
    )
    # a random model over an 800-token vocabulary sits near log(800) nats
    assert abs(en["value"] - math.log(800)) < 1.0
    weighted = (en["value"] * en["n_tokens"] + zh["value"] * zh["n_tokens"]) / (en["n_tokens"] + zh["n_tokens"])
    assert overall["value"] == pytest.approx(weighted) and overall["n_tokens"] == en["n_tokens"] + zh["n_tokens"]


def test_training_on_a_text_lowers_its_perplexity_and_forgetting_rows_show_it(tiny_model_dir, tiny_tokenizer, tmp_path):
    text = english_texts(1)
    docs = [np.asarray(tiny_tokenizer(t)["input_ids"] + [tiny_tokenizer.eos_token_id]) for t in text]
    cfg = TrainingConfig(
        max_lr=3e-3, min_lr=3e-4, warmup_steps=2, max_steps=25, micro_batch_size=4, seq_len=64, device="cpu"
    )
    result = train(cfg, tiny_model_dir, docs, tmp_path / "run")
    texts = {"en_docs": text}
    base = heldout_perplexity(tiny_model_dir, texts, max_tokens_per_category=2000, seq_len=64, model_name="base")
    trained = heldout_perplexity(load_causal_lm(result["checkpoint_dir"]), texts, 2000, 64, model_name="trained")
    b, t = by_key(base)[("en_docs", "perplexity")], by_key(trained)[("en_docs", "perplexity")]
    assert t["value"] < 0.8 * b["value"] and t["n_tokens"] == b["n_tokens"]
    deltas = by_key(forgetting_rows(base, trained))
    assert deltas[("en_docs", "loss_delta")]["value"] < 0
    assert deltas[("en_docs", "perplexity_ratio")]["value"] == pytest.approx(t["value"] / b["value"])
