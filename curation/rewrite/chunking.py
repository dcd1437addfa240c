"""Split a document into pieces that fit the model's window, on paragraph then sentence boundaries."""

import re
from collections.abc import Callable

_SENTENCE_END = re.compile(r"(?<=[.!?。！？；;])\s*")


def chunk_text(text: str, budget_tokens: int, count_tokens: Callable[[str], int]) -> list[str]:
    """Split ``text`` into pieces of at most ``budget_tokens`` (counted by the model's tokenizer).

    A single sentence over budget is cut by characters at the text's own chars-per-token rate.
    """
    pieces: list[tuple[str, int]] = []
    for paragraph in (p.strip() for p in re.split(r"\n\s*\n", text)):
        if not paragraph:
            continue
        n = count_tokens(paragraph)
        if n <= budget_tokens:
            pieces.append((paragraph, n))
            continue
        for sentence in (s for s in _SENTENCE_END.split(paragraph) if s.strip()):
            n = count_tokens(sentence)
            if n <= budget_tokens:
                pieces.append((sentence, n))
                continue
            step = max(1, int(len(sentence) * budget_tokens / n * 0.9))
            for lo in range(0, len(sentence), step):
                part = sentence[lo : lo + step]
                pieces.append((part, count_tokens(part)))
    chunks: list[str] = []
    current: list[str] = []
    used = 0
    for piece, n in pieces:
        if current and used + n > budget_tokens:
            chunks.append("\n\n".join(current))
            current, used = [], 0
        current.append(piece)
        used += n
    if current:
        chunks.append("\n\n".join(current))
    return chunks


def tail(text: str, max_tokens: int, count_tokens: Callable[[str], int]) -> str:
    """The end of ``text`` holding at most ``max_tokens``, cut at a word boundary (the carried context)."""
    if max_tokens <= 0 or not text:
        return ""
    n = count_tokens(text)
    if n <= max_tokens:
        return text
    cut = len(text) - int(len(text) * max_tokens / n)
    space = text.find(" ", cut)
    return text[space + 1 if 0 <= space < cut + 40 else cut :]
