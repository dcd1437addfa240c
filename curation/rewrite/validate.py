"""Checks every generation must pass before it becomes a synthetic document; each failure is a named reason.

Seed 003 (K2, 幕间): corpus rewriting needs "结果内容验证、后处理和错误重试" — validation,
post-processing and retries — because a fraction of generations is always unusable.
"""

import re
from dataclasses import dataclass

from curation.rewrite.prompts import PromptTemplate, normalize_text
from curation.scoring import gopher_repetition
from curation.scoring.langid import detect_language  # the project's one language-ID function
from curation.scoring.text_stats import TextStats

EMPTY = "empty_output"
IDENTICAL = "identical_to_input"
PROMPT_ECHO = "prompt_echo"
TOO_SHORT = "length_ratio_low"
TOO_LONG = "length_ratio_high"
LANGUAGE = "language_mismatch"
REPETITIVE = "repetitive_output"
REASONS = (EMPTY, IDENTICAL, PROMPT_ECHO, TOO_SHORT, TOO_LONG, LANGUAGE, REPETITIVE)


@dataclass(frozen=True)
class ValidationConfig:
    # an output shorter than this is no document, whatever the ratio says (our choice)
    min_output_chars: int = 20
    check_language: bool = True
    # py3langid is unreliable below a sentence; shorter outputs skip the language check (our choice)
    min_chars_for_language: int = 40
    # small models loop ("The sentence is: ... The sentence is: ..."): a generation that fails the Gopher
    # repetition rules (Rae et al. 2021, Table A1) the scoring stage applies, where its source passes, is dropped
    check_repetition: bool = True


def _content_length(text: str) -> int:
    # whitespace-free characters: comparable across English and Chinese, blind to re-wrapping
    return len(re.sub(r"\s+", "", text))


def validate_generation(
    output: str, source: str, source_language: str, template: PromptTemplate, config: ValidationConfig
) -> str | None:
    """The first reason ``output`` is unusable as a rewrite of ``source``, or None when it passes."""
    if _content_length(output) < config.min_output_chars:
        return EMPTY
    if normalize_text(output) == normalize_text(source):
        return IDENTICAL
    normalized = normalize_text(output)
    if any(line in normalized for line in template.instruction_lines()):
        return PROMPT_ECHO
    ratio = _content_length(output) / max(1, _content_length(source))
    low, high = template.length_ratio
    if ratio < low:
        return TOO_SHORT
    if ratio > high:
        return TOO_LONG
    checkable = config.check_language and len(output) >= config.min_chars_for_language
    if checkable and detect_language(output) != source_language:
        return LANGUAGE
    # judged against the source: a faithful rewrite of a text that repeats a name may repeat it too
    if config.check_repetition and repetition_failure(output) is not None and repetition_failure(source) is None:
        return REPETITIVE
    return None


def repetition_failure(text: str):
    """The first Gopher repetition rule ``text`` fails (None when it passes). The n-gram rules run at
    every length here: a generation is judged against its source, and a short looping one is the
    typical failure of a small model."""
    config = gopher_repetition.GopherRepetitionConfig(ngram_min_words=None)
    return next(gopher_repetition.check(TextStats(text), config), None)
