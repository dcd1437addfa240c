"""Language identification with py3langid's packaged model (pure numpy, 97 languages).

Probabilities are normalised (``norm_probs=True``), so ``lang_score`` is a confidence in [0, 1].
Only the first ``max_chars`` characters are classified: the language of a document is settled
well before that, and the cost of the byte-level DFA grows with length.
"""

import functools
from dataclasses import dataclass

from py3langid.langid import MODEL_FILE, LanguageIdentifier


@dataclass(frozen=True)
class LangIdConfig:
    max_chars: int = 2000  # our choice: ~400 words is ample for a 97-language NB classifier
    min_confidence: float = 0.5  # below this the label is "und" (undetermined), never a mismatch


class LanguageId:
    def __init__(self, cfg: LangIdConfig = LangIdConfig(), model_path: str | None = None):
        self.cfg = cfg
        source = model_path or MODEL_FILE
        self._identifier = LanguageIdentifier.from_model_file(source, norm_probs=True)

    def classify(self, text: str) -> tuple[str, float]:
        """(ISO 639-1 code or "und", confidence)."""
        sample = text[: self.cfg.max_chars]
        if not sample.strip():
            return "und", 0.0
        lang, prob = self._identifier.classify(sample)
        return (lang if prob >= self.cfg.min_confidence else "und"), float(prob)


def is_mismatch(lang: str, expected: tuple[str, ...]) -> bool:
    """A confident label outside the category's expected languages; no expectation, no mismatch."""
    return bool(expected) and lang != "und" and lang not in expected


@functools.lru_cache(maxsize=1)
def _shared_identifier() -> LanguageId:
    return LanguageId(LangIdConfig(min_confidence=0.0))


def detect_language(text: str) -> str:
    """The most likely ISO 639-1 code of ``text`` (no confidence cut): the one language-ID function
    every stage uses (the scoring stage adds its confidence threshold through ``LanguageId``)."""
    return _shared_identifier().classify(text)[0]
