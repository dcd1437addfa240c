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


def resolve_eod(tokenizer, eod_token: str | None = None) -> int:
    """Id of the end-of-document token: ``eod_token`` when configured (a base model's end-of-text
    token for continued pretraining), else the tokenizer's EOS. An unknown token is an error,
    never a silent fallback to the unknown-token id."""
    if eod_token is None:
        return eos_token_id(tokenizer)
    token_id = tokenizer.convert_tokens_to_ids(eod_token)
    # an unknown token maps to the unk id, whose token is not ``eod_token``: the round trip catches it
    # (SmolLM2's unk *is* <|endoftext|>, so comparing ids with unk_token_id would refuse the right token)
    if token_id is None or tokenizer.convert_ids_to_tokens(token_id) != eod_token:
        raise TokenizerError(
            f"eod_token {eod_token!r} is not a token of {getattr(tokenizer, 'name_or_path', tokenizer)!r}"
        )
    return int(token_id)


def encode_texts(tokenizer, texts: Sequence[str]) -> list[np.ndarray]:
    """Token ids of each text, no special tokens added (callers add EOS / BOS where they need them)."""
    if not texts:
        return []
    encoded = tokenizer(list(texts), add_special_tokens=False, return_attention_mask=False, verbose=False)
    return [np.asarray(ids, dtype=np.int64) for ids in encoded["input_ids"]]


def encode_documents(tokenizer, texts: Sequence[str], eod: int | None = None) -> list[np.ndarray]:
    """Token ids of each text with the end-of-document token appended, as documents are packed
    for pretraining (``eod``: its id; the tokenizer's EOS when None)."""
    eos = np.array([eos_token_id(tokenizer) if eod is None else eod], dtype=np.int64)
    return [np.concatenate([ids, eos]) for ids in encode_texts(tokenizer, texts)]
