import json
import math
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
import torch

from curation.lm.models import load_causal_lm
from curation.mixture.spec import MixtureSpec
from curation.mixture.stage import build_mixture
from curation.training.checkpoint import CHECKPOINT_JSON
from curation.training.config import TrainingConfig
from curation.training.train import kl_divergence, train
from tests.curation.training.tiny_lm import chinese_texts, english_texts


@pytest.fixture(scope="module")
def mixture(tiny_tokenizer, tmp_path_factory):
    def table(category, texts):
        return pa.table(
            {"id": [f"{category}-{i}" for i in range(len(texts))], "text": texts, "category": [category] * len(texts)}
        )

    spec = MixtureSpec(weights={"en_docs": 3.0, "zh_reviews": 1.0}, total_tokens=4000, heldout_max_docs=2)
    out = tmp_path_factory.mktemp("train_mix") / "mixture"
    stats = build_mixture(
        {"en": [table("en_docs", english_texts(6))], "zh": [table("zh_reviews", chinese_texts(30))]},
        tiny_tokenizer,
        spec,
        out,
    )
    return stats


def cfg(**kw):
    base = {
        "max_lr": 1e-3,
        "min_lr": 1e-4,
        "warmup_steps": 1,
        "max_steps": 2,
        "micro_batch_size": 2,
        "grad_accum_steps": 2,
        "seq_len": 32,
        "device": "cpu",
    }
    return TrainingConfig(**{**base, **kw})


def test_trains_checkpoints_and_resumes_without_redoing_steps(tiny_model_dir, mixture, tmp_path):
    logged = []
    first = train(cfg(), tiny_model_dir, mixture["blend_path"], tmp_path / "run", log=logged.append)
    assert first["steps_done"] == 2 and first["steps_run"] == 2 and [r["step"] for r in logged] == [0, 1]
    assert all(math.isfinite(r["loss"]) for r in first["losses"])
    ckpt = tmp_path / "run" / "checkpoint"
    assert (ckpt / "model.safetensors").is_file() and (ckpt / "tokenizer.json").is_file()
    meta = json.loads((ckpt / CHECKPOINT_JSON).read_text())
    assert meta["steps_done"] == 2 and meta["config"]["max_steps"] == 2
    assert (
        meta["mixture_manifest"]["path"] == mixture["manifest_path"] and len(meta["mixture_manifest"]["sha256"]) == 64
    )
    assert meta["base_model"]["path"] == str(tiny_model_dir.resolve())

    second = train(cfg(max_steps=3), tiny_model_dir, mixture["blend_path"], tmp_path / "run")
    assert second["steps_run"] == 1 and second["steps_done"] == 3
    steps = [json.loads(line)["step"] for line in (tmp_path / "run" / "loss.jsonl").read_text().splitlines()]
    assert steps == [0, 1, 2]
    # the resumed weights are the checkpoint's, not the base model's
    _, resumed = load_causal_lm(ckpt)
    _, base = load_causal_lm(tiny_model_dir)
    assert not torch.equal(resumed.model.embed_tokens.weight, base.model.embed_tokens.weight)
    assert train(cfg(max_steps=3), tiny_model_dir, mixture["blend_path"], tmp_path / "run")["steps_run"] == 0


def test_kl_is_zero_against_itself_and_grows_as_the_model_moves(tiny_model_dir, mixture, tmp_path):
    _, model = load_causal_lm(tiny_model_dir)
    x = torch.randint(0, 500, (2, 16))
    with torch.no_grad():
        logits = model(input_ids=x).logits
    assert kl_divergence(logits, logits).item() == pytest.approx(0.0, abs=1e-7)
    result = train(cfg(max_steps=3, kl_coef=1.0), tiny_model_dir, mixture["blend_path"], tmp_path / "kl")
    kls = [r["kl"] for r in result["losses"]]
    assert kls[0] == pytest.approx(0.0, abs=1e-6)  # step 0: the trained model is still the base model
    assert kls[-1] > kls[1] > 1e-7
    assert result["losses"][-1]["loss"] == pytest.approx(result["losses"][-1]["ce"] + kls[-1])


def test_resuming_on_another_base_model_is_refused(tiny_model_dir, mixture, tmp_path):
    train(cfg(max_steps=1), tiny_model_dir, mixture["blend_path"], tmp_path / "run")
    other = tmp_path / "other"
    _, model = load_causal_lm(tiny_model_dir)
    model.save_pretrained(other)
    (other / "config.json").write_text((other / "config.json").read_text().replace("}", ', "note": 1}', 1))
    with pytest.raises(ValueError, match="use another out_dir"):
        train(cfg(max_steps=2), other, mixture["blend_path"], tmp_path / "run")


def test_token_arrays_train_too(tiny_model_dir, tiny_tokenizer, tmp_path):
    docs = [np.asarray(tiny_tokenizer(t)["input_ids"] + [tiny_tokenizer.eos_token_id]) for t in english_texts(3)]
    result = train(cfg(max_steps=1), tiny_model_dir, docs, tmp_path / "arrays")
    assert result["steps_done"] == 1 and result["checkpoint"]["mixture_manifest"] is None


def test_a_stage_starts_from_the_previous_checkpoint_in_file_order(tiny_model_dir, mixture, tmp_path):
    first = train(cfg(max_steps=1, warmup_steps=0), tiny_model_dir, mixture["blend_path"], tmp_path / "s1")
    second = train(cfg(max_steps=1, warmup_steps=0), tiny_model_dir, mixture["blend_path"], tmp_path / "s2",
                   init_from=first["checkpoint_dir"], shuffle=False)
    meta = second["checkpoint"]
    assert meta["initialised_from"]["path"] == str(Path(first["checkpoint_dir"]).resolve())
    assert meta["data_order"] == "sequential" and meta["base_model"]["path"] == str(Path(tiny_model_dir).resolve())
    _, model = load_causal_lm(Path(first["checkpoint_dir"]), "cpu")
    _, fresh = load_causal_lm(Path(tiny_model_dir), "cpu")
    # stage 2 began from stage 1's weights, not the base model's
    w1 = next(model.parameters()).detach()
    assert not torch.equal(w1, next(fresh.parameters()).detach())
