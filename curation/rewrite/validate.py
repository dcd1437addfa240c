"""Checks every generation must pass before it becomes a synthetic document; each failure is a named reason.

Seed 003 (K2, 幕间): corpus rewriting needs "结果内容验证、后处理和错误重试" — validation,
post-processing and retries — because a fraction of generations is always unusable, and its
three hard problems include hallucination: so faithfulness to the source is checked too.
Order: cheap format checks, then the style's post-processing, then length, language,
repetition and faithfulness on the cleaned text.
"""

import dataclasses
import re
from dataclasses import dataclass, field

from curation.rewrite import faithfulness as faith
from curation.rewrite.faithfulness import FaithfulnessConfig
from curation.rewrite.postprocess import REASONS as POSTPROCESS_REASONS
from curation.rewrite.postprocess import postprocess, render_qa
from curation.rewrite.prompts import PromptTemplate, normalize_text
from curation.scoring import gopher_repetition
from curation.scoring.langid import detect_language  # the project's one language-ID function
from curation.scoring.text_stats import TextStats

EMPTY = "empty_output"
REFUSAL = "refusal"
IDENTICAL = "identical_to_input"
PROMPT_ECHO = "prompt_echo"
TOO_SHORT = "length_ratio_low"
TOO_LONG = "length_ratio_high"
LANGUAGE = "language_mismatch"
REPETITIVE = "repetitive_output"
UNFAITHFUL_NUMBERS = "unfaithful_numbers"
UNFAITHFUL_ENTITIES = "unfaithful_entities"
LOW_OVERLAP = "low_source_overlap"
QA_UNSUPPORTED = "qa_answers_unsupported"
ECHO_PROBE_CHARS = 60
REASONS = (
    EMPTY, REFUSAL, PROMPT_ECHO, *POSTPROCESS_REASONS, IDENTICAL, TOO_SHORT, TOO_LONG, LANGUAGE, REPETITIVE,
    UNFAITHFUL_NUMBERS, UNFAITHFUL_ENTITIES, LOW_OVERLAP, QA_UNSUPPORTED,
)
# an assistant declining or talking about itself instead of rewriting (English and Chinese)
_REFUSAL = re.compile(
    r"\b(as an ai\b|as a language model|i (?:cannot|can't|am unable to|won't) (?:help|assist|provide|rewrite|do)|"
    r"i'm sorry,? but|i apologi[sz]e,? but)|作为一个?(?:人工智能|ai|语言模型)|抱歉，我(?:无法|不能)",
    re.IGNORECASE,
)


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
    # Gopher's n-gram shares are document statistics: on a few short QA pairs one repeated phrase ("the with
    # statement") trips them, so shorter outputs are not judged for repetition (our choice)
    min_words_for_repetition: int = 50
    check_refusal: bool = True
    faithfulness: FaithfulnessConfig = field(default_factory=FaithfulnessConfig)


@dataclass
class Verdict:
    text: str | None  # the cleaned output, kept when reason is None
    reason: str | None
    detail: str = ""


def _content_length(text: str) -> int:
    # whitespace-free characters: comparable across English and Chinese, blind to re-wrapping
    return len(re.sub(r"\s+", "", text))


def faithfulness_for(template: PromptTemplate, config: ValidationConfig) -> FaithfulnessConfig:
    """The stage's faithfulness bounds with the template's overrides (code and math relax some)."""
    return dataclasses.replace(config.faithfulness, **template.faithfulness)


def validate_generation(
    output: str,
    source: str,
    source_language: str,
    template: PromptTemplate,
    config: ValidationConfig,
    check_language: bool = True,
) -> Verdict:
    """Clean ``output`` (the style's post-processing) and judge it against ``source``: a Verdict with the
    cleaned text, or the first reason it is unusable."""
    output = template.clean_output(output)
    if _content_length(output) < config.min_output_chars:
        return Verdict(None, EMPTY)
    if config.check_refusal and (said := refusal(output)):
        return Verdict(None, REFUSAL, said)
    if echoed := prompt_echo(output, template):
        return Verdict(None, PROMPT_ECHO, echoed)
    parsed = postprocess(template.postprocess, output)
    if parsed.reason:
        return Verdict(None, parsed.reason)
    text = parsed.text
    if normalize_text(text) == normalize_text(source):
        return Verdict(None, IDENTICAL)
    bounds = faithfulness_for(template, config)
    if template.postprocess == "qa_pairs" and bounds.min_answer_support is not None:
        supported = [(q, a) for q, a in parsed.items if _answer_supported(q, a, source, bounds)]
        if not supported:
            return Verdict(None, QA_UNSUPPORTED, f"0 of {len(parsed.items)} answers found in the source")
        text = render_qa(supported)
    ratio = _content_length(text) / max(1, _content_length(source))
    low, high = template.length_ratio
    if ratio < low:
        return Verdict(None, TOO_SHORT, f"ratio {ratio:.3g} < {low}")
    if ratio > high:
        return Verdict(None, TOO_LONG, f"ratio {ratio:.3g} > {high}")
    if check_language and config.check_language and len(text) >= config.min_chars_for_language:
        lang = detect_language(text)
        if lang != source_language:
            return Verdict(None, LANGUAGE, f"{lang} != source {source_language}")
    # judged against the source: a faithful rewrite of a text that repeats a name may repeat it too. QA and
    # list markers ("Question:", "- ") repeat by design, so their items are judged, not the markup
    body = " ".join(" ".join(i) if isinstance(i, tuple) else i for i in parsed.items) if parsed.items else text
    judged = config.check_repetition and len(body.split()) >= config.min_words_for_repetition
    if judged and repetition_failure(body) is not None and repetition_failure(source) is None:
        return Verdict(None, REPETITIVE, str(repetition_failure(body).rule))
    reason = unfaithful_reason(text, source, bounds)
    if reason is not None:
        return Verdict(None, *reason)
    return Verdict(text, None)


def refusal(output: str) -> str | None:
    """The phrase by which ``output`` declines or talks about itself as an AI, or None."""
    found = _REFUSAL.search(output)
    return found.group(0) if found else None


def prompt_echo(output: str, template: PromptTemplate) -> str | None:
    """The instruction line of ``template`` that ``output`` repeats (its first ECHO_PROBE_CHARS characters
    reappear), or None."""
    normalized = normalize_text(output)
    echoed = next((line for line in template.instruction_lines() if line[:ECHO_PROBE_CHARS] in normalized), None)
    return echoed[:80] if echoed else None


def content_length(text: str) -> int:
    """Whitespace-free characters: comparable across English and Chinese, blind to re-wrapping."""
    return _content_length(text)


def unfaithful_reason(text: str, source: str, bounds: FaithfulnessConfig) -> tuple[str, str] | None:
    """The first faithfulness test ``text`` fails against ``source``, as (reason, detail)."""
    if bounds.max_unsupported_number_share is not None:
        missing, total = faith.unsupported_numbers(text, source)
        if total and len(missing) / total > bounds.max_unsupported_number_share:
            return UNFAITHFUL_NUMBERS, f"{len(missing)}/{total} numbers not in the source: {missing[:5]}"
    if bounds.max_unsupported_entity_share is not None:
        missing, total = faith.unsupported_entities(text, source)
        if total >= bounds.min_items_to_judge and len(missing) / total > bounds.max_unsupported_entity_share:
            return UNFAITHFUL_ENTITIES, f"{len(missing)}/{total} names not in the source: {missing[:5]}"
    if bounds.min_source_overlap is not None:
        share, total = faith.source_overlap(text, source)
        if total >= bounds.min_items_to_judge and share < bounds.min_source_overlap:
            return LOW_OVERLAP, f"overlap {share:.3g} < {bounds.min_source_overlap} over {total} tokens"
    return None


def _answer_supported(question: str, answer: str, source: str, bounds: FaithfulnessConfig) -> bool:
    # a bare "Yes." carries no content of its own: judge the question it answers instead
    probe = answer if len(faith.content_tokens(answer)) >= 2 else f"{question} {answer}"
    share, total = faith.source_overlap(probe, source)
    missing, _ = faith.unsupported_numbers(answer, source)
    return total > 0 and share >= bounds.min_answer_support and not missing


def repetition_failure(text: str):
    """The first Gopher repetition rule ``text`` fails (None when it passes). The n-gram rules run at every
    length here (the caller's min_words_for_repetition decides what is judged): a generation is compared
    with its source, and a short looping one is the typical failure of a small model."""
    config = gopher_repetition.GopherRepetitionConfig(ngram_min_words=None)
    return next(gopher_repetition.check(TextStats(text), config), None)
