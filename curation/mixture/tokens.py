"""Turning documents into token ids with the base model's tokenizer (shared by mixing and evaluation)."""

from collections.abc import Sequence

import numpy as np


class TokenizerError(ValueError):
    """A tokenizer that cannot delimit documents (no EOS token)."""


def eos_token_id(tokenizer) -> int:
    eos = getattr(tokenizer, "eos_token_id", None)
    if eos is None:
        raise TokenizerError(
            f"tokenizer {getattr(tokenizer, 'name_or_path', tokenizer)!r} has no eos_token_id: "
            "documents cannot be delimited in a packed stream"
        )
    return int(eos)


def encode_texts(tokenizer, texts: Sequence[str]) -> list[np.ndarray]:
    """Token ids of each text, no special tokens added (callers add EOS / BOS where they need them)."""
    if not texts:
        return []
    encoded = tokenizer(list(texts), add_special_tokens=False, return_attention_mask=False, verbose=False)
    return [np.asarray(ids, dtype=np.int64) for ids in encoded["input_ids"]]


def encode_documents(tokenizer, texts: Sequence[str]) -> list[np.ndarray]:
    """Token ids of each text with EOS appended, the way documents are packed for pretraining."""
    eos = np.array([eos_token_id(tokenizer)], dtype=np.int64)
    return [np.concatenate([ids, eos]) for ids in encode_texts(tokenizer, texts)]
