"""What every generated summary, CoT sample and discipline QA pair must pass; each failure is a named reason.

Seed 001 gives the three steps (abstract per segment; instruction that the original answers;
detailed chain of thought), seed 002 the QA format ("[Problem]" self-contained, "[Solution]" step
by step with LaTeX). The tests here are lexical proxies, each named for what it is: a "copy" is a
share of word n-grams (CJK: character n-grams) found in the source; a "task" is a question mark or
an interrogative / imperative opening; "steps" are enumerated lines, else sentences; a number
"contradicts" the source when the source never states it; a math answer is checked only when both
the source's final answer and the reasoning's parse to one number.
"""

import functools
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from fractions import Fraction

from curation.cjk import CJK_CLASS
from curation.rewrite import faithfulness as faith
from curation.rewrite.prompts import PromptTemplate, normalize_text
from curation.rewrite.validate import content_length, prompt_echo, refusal, repetition_failure
from curation.scoring.langid import LanguageId, is_mismatch
from curation.synthesis.config import CotConfig, DisciplineQAConfig, SummaryConfig
from curation.synthesis.sentences import complete_sentences, split_sentences

EMPTY = "empty_output"
REFUSAL = "refusal"
PROMPT_ECHO = "prompt_echo"
LANGUAGE = "language_mismatch"
SUMMARY_COPY = "summary_copies_segment"
SUMMARY_NOT_SHORTER = "summary_not_shorter"
SUMMARY_NUMBERS = "summary_unsupported_numbers"
MALFORMED_COT = "malformed_cot"
INSTRUCTION_LENGTH = "instruction_length_out_of_bounds"
NOT_A_TASK = "instruction_not_a_task"
NOT_SELF_CONTAINED = "not_self_contained"
INSTRUCTION_COPY = "instruction_copies_source"
REASONING_SHORT = "reasoning_too_short"
REASONING_STEPS = "reasoning_too_few_steps"
REASONING_COPY = "reasoning_copies_source"
REPETITIVE = "repetitive_output"
NUMBERS = "numbers_contradict_source"
MATH_ANSWER = "math_answer_mismatch"
MALFORMED_QA = "malformed_problem_solution"
PROBLEM_SHORT = "problem_too_short"
PROBLEM_NOT_A_TASK = "problem_not_a_task"
PROBLEM_COPY = "problem_copies_seed"
SOLUTION_SHORT = "solution_too_short"
SOLUTION_STEPS = "solution_too_few_steps"
LATEX = "unbalanced_latex"

# answer-check outcomes recorded in provenance (not drop reasons)
ANSWER_MATCH, ANSWER_NOT_MATH, ANSWER_NONE_IN_SOURCE, ANSWER_NOT_NUMERIC = (
    "match", "not_math", "source_has_no_final_answer", "not_numeric")

_TOKEN = re.compile(rf"[{CJK_CLASS}]|[A-Za-z0-9]+")
_TASK_OPENING = re.compile(
    r"^\W*(?:what|why|how|when|where|which|who|whom|whose|is|are|was|were|can|could|does|do|did|should|would|will|"
    r"explain|describe|write|prove|show|compute|calculate|find|determine|derive|list|compare|summari[sz]e|discuss|"
    r"give|implement|design|evaluate|solve|given|suppose|assume|let|outline|identify|analy[sz]e|define|illustrate|"
    r"demonstrate|estimate|create|construct|translate|state|name|classify|predict|justify|use|consider|imagine)\b",
    re.IGNORECASE,
)
_ZH_TASK = re.compile(r"什么|为什么|为何|如何|怎样|怎么|哪些|哪个|哪里|是否|吗[？?]?$|请|解释|说明|描述|分析|论述|求|证明|计算|"
                      r"比较|列举|总结|概括|阐述|探讨|讨论|判断")
_STEP_MARK = re.compile(
    r"^[ \t]*(?:\d{1,2}[.)、:]\s|step\s*\d+\s*[:.)]?|[-*•]\s|第[一二三四五六七八九十\d]+步|"
    r"(?:first(?:ly)?|second(?:ly)?|third(?:ly)?|next|then|finally|lastly)\b|首先|其次|然后|接着|最后)",
    re.IGNORECASE | re.MULTILINE,
)
# "Step 2", "segment 3": counting, not facts of the source
_COUNTING = re.compile(r"\b(?:step|steps|part|segment|summary|summaries|question|sentence|point)\s*\d+|第\s*\d+\s*步",
                       re.IGNORECASE)
_LABEL = r"(?:^|\n)[ \t]*(?:[#*]+[ \t]*)?"
_INSTRUCTION_LABEL = re.compile(_LABEL + r"(?:question|instruction|task|问题|指令|任务)[ \t]*(?:\*\*)?[ \t]*[:：][ \t]*(?:\*\*)?",
                                re.IGNORECASE)
_REASONING_LABEL = re.compile(
    _LABEL + r"(?:reasoning|chain of thought|thinking|thought process|step[- ]by[- ]step(?: explanation| reasoning)?|"
    r"explanation|推理过程|推理|思考过程|思考|思路|解题思路)[ \t]*(?:\*\*)?[ \t]*[:：][ \t]*(?:\*\*)?",
    re.IGNORECASE,
)
_PROBLEM_LABEL = re.compile(_LABEL + r"(?:\[problem\]|【problem】|\[问题\]|【问题】|problem[ \t]*[:：]|问题[ \t]*[:：])(?:\*\*)?",
                            re.IGNORECASE)
_SOLUTION_LABEL = re.compile(_LABEL + r"(?:\[solution\]|【solution】|\[解答\]|【解答】|\[解析\]|【解析】|solution[ \t]*[:：]|"
                             r"解答[ \t]*[:：]|解[ \t]*[:：])(?:\*\*)?", re.IGNORECASE)
_SUMMARY_PREFIX = re.compile(r"^\s*(?:\*\*)?(?:summary|abstract|摘要|总结)(?:\*\*)?\s*[:：]\s*", re.IGNORECASE)


@dataclass
class Verdict:
    reason: str | None = None
    detail: str = ""
    fields: dict = field(default_factory=dict)  # the parsed parts of an accepted output

    @property
    def ok(self) -> bool:
        return self.reason is None


def _fail(reason: str, detail: str = "") -> Verdict:
    return Verdict(reason, detail)


def _unusable(output: str, template: PromptTemplate, min_chars: int) -> Verdict | None:
    """The failures every step shares: (nearly) empty, a refusal, the prompt echoed back."""
    if content_length(output) < min_chars:
        return _fail(EMPTY)
    if said := refusal(output):
        return _fail(REFUSAL, said)
    if echoed := prompt_echo(output, template):
        return _fail(PROMPT_ECHO, echoed)
    return None


def tokens(text: str) -> list[str]:
    """Lower-cased words and single CJK characters: the units n-gram overlap counts."""
    return [t.casefold() for t in _TOKEN.findall(text)]


def ngram_overlap(text: str, source: str, n: int) -> tuple[float, int]:
    """Share of ``text``'s n-grams that occur in ``source`` (n shrinks to the text's length when shorter),
    and how many n-grams that share rests on."""
    words, known = tokens(text), tokens(source)
    n = min(n, len(words))
    if n == 0:
        return 0.0, 0
    grams = [tuple(words[i : i + n]) for i in range(len(words) - n + 1)]
    source_grams = {tuple(known[i : i + n]) for i in range(len(known) - n + 1)}
    return sum(g in source_grams for g in grams) / len(grams), len(grams)


def is_copy(text: str, source: str, n: int, bound: float) -> tuple[bool, str]:
    share, total = ngram_overlap(text, source, n)
    inside = len(normalize_text(text)) >= 20 and normalize_text(text) in normalize_text(source)
    return inside or share > bound, f"{share:.2f} of {total} {n}-grams in the source" + (" (verbatim)" if inside else "")


def looks_like_task(text: str) -> bool:
    """A question (a question mark, an interrogative opening) or a task (an imperative opening), EN or ZH."""
    if re.search(r"[?？]", text) or _ZH_TASK.search(text):
        return True
    return any(_TASK_OPENING.match(s) for s in split_sentences(text) if s.strip())


# an instruction or problem that points at the material it came from ("the text", "these notes") or asks
# about the asking ("What question does this answer?") cannot stand alone: seed 002 requires a
# "completely self-contained" problem, and seed 001's instruction is answered by the document alone
_REFERS_TO_SOURCE = re.compile(
    r"\b(?:th(?:e|is|ese|ose)\s+(?:text|passage|notes?|document|summar(?:y|ies)|material|excerpt|snippet|article)s?|"
    r"(?:what|which)\s+(?:question|task)|answer to (?:this|the) question|(?:this|the) question)\b"
    r"|(?:这段|这篇|本文|上文|以上|这些)(?:文字|文本|材料|笔记|摘要|内容)?",
    re.IGNORECASE,
)


def refers_to_source(text: str) -> str | None:
    """The phrase by which ``text`` leans on unseen material or on the prompt itself, or None."""
    found = _REFERS_TO_SOURCE.search(text)
    return found.group(0) if found else None


def count_steps(text: str) -> int:
    """Enumerated steps ("1.", "Step 2:", "- ", "First,", "首先") when two or more; else sentences."""
    marked = len(_STEP_MARK.findall(text))
    return marked if marked >= 2 else sum(1 for s in split_sentences(text) if s.strip())


def unsupported_number_share(text: str, source: str) -> tuple[float, list[str], int]:
    missing, total = faith.unsupported_numbers(_COUNTING.sub(" ", text), source)
    return (len(missing) / total if total else 0.0), missing, total


@functools.lru_cache(maxsize=1)
def _language_id() -> LanguageId:
    return LanguageId()  # the scoring stage's classifier and confidence cut: below it the label is "und"


def same_language(text: str, reference: str, min_chars: int) -> tuple[bool, str]:
    """(agree, detail). Texts shorter than ``min_chars`` are not judged, and neither is a pair where either
    label is unsure ("und", py3langid's normalised probability under the scoring stage's 0.5): a one-line
    English abstract can score 0.1 for Occitan, which is no evidence of a language switch."""
    if len(text.strip()) < min_chars or len(reference.strip()) < min_chars:
        return True, "too short to judge"
    a, b = _language_id().classify(text)[0], _language_id().classify(reference)[0]
    return not is_mismatch(a, (b,)) or b == "und", f"{a} != {b}"


# -- step 2: summaries --------------------------------------------------------------------------

def check_summary(output: str, segment: str, template: PromptTemplate, cfg: SummaryConfig) -> Verdict:
    """An abstract of ``segment``: non-empty, its own words, shorter, same language, no new numbers."""
    text = _SUMMARY_PREFIX.sub("", complete_sentences(template.clean_output(output))).strip()
    if (early := _unusable(text, template, cfg.min_chars)) is not None:
        return early
    copied, detail = is_copy(text, segment, cfg.ngram, cfg.max_overlap)
    if copied:
        return _fail(SUMMARY_COPY, f"{detail} > {cfg.max_overlap}")
    ratio = content_length(text) / max(1, content_length(segment))
    if ratio >= cfg.max_length_ratio:
        return _fail(SUMMARY_NOT_SHORTER, f"ratio {ratio:.2f} >= {cfg.max_length_ratio}")
    agree, detail = same_language(text, segment, cfg.min_chars_for_language)
    if not agree:
        return _fail(LANGUAGE, detail)
    share, missing, total = unsupported_number_share(text, segment)
    if share > cfg.max_unsupported_number_share:
        return _fail(SUMMARY_NUMBERS, f"{len(missing)}/{total} numbers not in the segment: {missing[:5]}")
    return Verdict(fields={"summary": text, "length_ratio": round(ratio, 4)})


# -- step 3: instruction + chain of thought -----------------------------------------------------

def parse_cot(output: str) -> tuple[str, str] | None:
    """(instruction, reasoning) from a "Question: ... / Reasoning: ..." answer; None when there is none."""
    q = _INSTRUCTION_LABEL.search(output)
    r = _REASONING_LABEL.search(output, q.end() if q else 0)
    if q and r:
        instruction, reasoning = output[q.end() : r.start()], output[r.end() :]
    elif q:
        first, _, rest = output[q.end() :].strip().partition("\n")
        instruction, reasoning = first, rest
    elif r:
        instruction, reasoning = output[: r.start()], output[r.end() :]
    else:
        return None
    instruction, reasoning = " ".join(instruction.split()), complete_sentences(reasoning.strip())
    return (instruction, reasoning) if instruction and reasoning else None


def _number(text: str) -> Fraction | None:
    """The one number ``text`` states (integer, decimal, a/b, \\frac{a}{b}, with sign, commas or %), else None."""
    t = re.sub(r"\\[,;!]|\\text\{[^}]*\}|[$\s]|\\left|\\right", "", text).rstrip(".。")
    t = re.sub(r"\\[dt]?frac\{(-?\d+)\}\{(-?\d+)\}", r"\1/\2", t)
    t = re.sub(r"^[A-Za-z]\w*=", "", t)  # "x = 5"
    found = re.findall(r"-?\d[\d,]*(?:\.\d+)?(?:/-?\d+)?%?", t)
    # one number, and no operator or exponent beside it ("2^{10}", "3+4" are not one number); units may follow
    if len(found) != 1 or re.search(r"[\^_\\+*/=<>]", t.replace(found[0], "", 1)):
        return None
    value = found[0].replace(",", "")
    percent = value.endswith("%")
    try:
        number = Fraction(value.rstrip("%"))
    except (ValueError, ZeroDivisionError):
        return None
    return number / 100 if percent else number


def _boxed(text: str) -> list[str]:
    out = []
    for m in re.finditer(r"\\boxed\{", text):
        depth, i = 1, m.end()
        while i < len(text) and depth:
            depth += {"{": 1, "}": -1}.get(text[i], 0)
            i += 1
        out.append(text[m.end() : i - 1])
    return out


_ANSWER_LINE = re.compile(r"(?:^|\n)[ \t]*(?:final answer|answer|答案|####)[ \t]*[:：]?[ \t]*(?P<a>[^\n]+)", re.IGNORECASE)
_ANSWER_IS = re.compile(r"(?:the (?:final )?answer is|answer:|答案(?:是|为))\s*(?P<a>[^\n。]+)", re.IGNORECASE)


def source_answer(source: str) -> str | None:
    """The final answer a source states: its last \\boxed{}, else its last "Answer: ..." line."""
    boxed = _boxed(source)
    if boxed:
        return boxed[-1]
    lines = list(_ANSWER_LINE.finditer(source))
    return lines[-1].group("a").strip() if lines else None


def reasoning_answer(reasoning: str) -> Fraction | None:
    """The number the reasoning ends on: \\boxed{}, "the answer is ...", else the last number of its last sentence."""
    for candidate in _boxed(reasoning)[::-1] + [m.group("a") for m in _ANSWER_IS.finditer(reasoning)][::-1]:
        if (value := _number(candidate)) is not None:
            return value
    sentences = [s for s in split_sentences(reasoning) if s.strip()]
    numbers = re.findall(r"-?\d[\d,]*(?:\.\d+)?", _COUNTING.sub(" ", sentences[-1])) if sentences else []
    return _number(numbers[-1]) if numbers else None


def check_math_answer(reasoning: str, source: str, tolerance: float) -> tuple[str, str]:
    """(outcome, detail): ``match``, ``math_answer_mismatch``, or why it cannot be checked."""
    stated = source_answer(source)
    if stated is None:
        return ANSWER_NONE_IN_SOURCE, ""
    expected = _number(stated)
    if expected is None:
        return ANSWER_NOT_NUMERIC, f"source answer {stated[:40]!r} is not one number"
    got = reasoning_answer(reasoning)
    if got is None:
        return MATH_ANSWER, f"reasoning ends on no number; source answer {stated[:40]!r}"
    if abs(float(got - expected)) > tolerance * max(1.0, abs(float(expected))):
        return MATH_ANSWER, f"reasoning ends on {float(got):g}, source answer {float(expected):g}"
    return ANSWER_MATCH, f"{float(got):g}"


def _instruction_failure(instruction: str, source: str, cfg: CotConfig) -> Verdict | None:
    if not cfg.min_instruction_chars <= len(instruction) <= cfg.max_instruction_chars:
        return _fail(INSTRUCTION_LENGTH, f"{len(instruction)} chars not in [{cfg.min_instruction_chars}, "
                     f"{cfg.max_instruction_chars}]")
    if not looks_like_task(instruction):
        return _fail(NOT_A_TASK, instruction[:80])
    if leaning := refers_to_source(instruction):
        return _fail(NOT_SELF_CONTAINED, f"{leaning!r} in {instruction[:80]!r}")
    copied, detail = is_copy(instruction, source, cfg.ngram, cfg.max_instruction_overlap)
    if copied:
        return _fail(INSTRUCTION_COPY, f"{detail} > {cfg.max_instruction_overlap}")
    return None


def _sections(output: str, template: PromptTemplate, min_chars: int, parse: Callable[[str], tuple | None],
              malformed: Verdict, lead_failure: Callable[[str], Verdict | None]) -> tuple[Verdict | None, tuple]:
    """(failure, (lead, body)) of a two-section answer: the shared failures, its parse, then its lead's checks."""
    if (early := _unusable(output, template, min_chars)) is not None:
        return early, ()
    parsed = parse(template.clean_output(output))
    if parsed is None:
        return malformed, ()
    return lead_failure(parsed[0]), parsed


def _section(output: str, label: re.Pattern, next_label: re.Pattern) -> str:
    """The text after ``label`` (or from the start when it is missing) up to ``next_label``; when the model
    labels its section again inside ("Here is a problem:\n\nProblem: ..."), the text after the last label."""
    opened = label.search(output)
    rest = output[opened.end() :] if opened else output
    closed = next_label.search(rest)
    section = rest[: closed.start()] if closed else rest
    inner = list(label.finditer(section))
    return (section[inner[-1].end() :] if inner else section).strip()


def check_instruction(output: str, source: str, template: PromptTemplate, cfg: CotConfig) -> Verdict:
    """Pass 1 of a two-pass CoT: the instruction alone, its first paragraph, judged as in ``check_cot``."""
    if (early := _unusable(output, template, cfg.min_instruction_chars)) is not None:
        return early
    text = _section(template.clean_output(output), _INSTRUCTION_LABEL, _REASONING_LABEL)
    instruction = " ".join(re.split(r"\n[ \t]*\n", text, maxsplit=1)[0].split())
    if (bad := _instruction_failure(instruction, source, cfg)) is not None:
        return bad
    return Verdict(fields={"lead": instruction})


def check_cot(output: str, source: str, kind: str, template: PromptTemplate, cfg: CotConfig) -> Verdict:
    """An instruction the source answers and a reasoning towards it, judged against the source document."""
    failed, parsed = _sections(output, template, cfg.min_instruction_chars, parse_cot,
                               _fail(MALFORMED_COT, "no 'Question:' / 'Reasoning:' sections"),
                               lambda instruction: _instruction_failure(instruction, source, cfg))
    if failed is not None:
        return failed
    instruction, reasoning = parsed
    copied, detail = is_copy(reasoning, source, cfg.ngram, cfg.max_reasoning_overlap)
    if copied:
        return _fail(REASONING_COPY, f"{detail} > {cfg.max_reasoning_overlap}")
    if content_length(reasoning) < cfg.min_reasoning_chars:
        return _fail(REASONING_SHORT, f"{content_length(reasoning)} < {cfg.min_reasoning_chars} chars")
    steps = count_steps(reasoning)
    if steps < cfg.min_steps:
        return _fail(REASONING_STEPS, f"{steps} < {cfg.min_steps} steps")
    if len(reasoning.split()) >= cfg.min_words_for_repetition and (rule := repetition_failure(reasoning)) \
            and repetition_failure(source) is None:
        return _fail(REPETITIVE, str(rule.rule))
    bound = cfg.math_max_unsupported_number_share if kind == "math" else cfg.max_unsupported_number_share
    share, missing, total = unsupported_number_share(f"{instruction}\n{reasoning}", source)
    if share > bound:
        return _fail(NUMBERS, f"{len(missing)}/{total} numbers not in the source: {missing[:5]} (bound {bound})")
    answer, answer_detail = ANSWER_NOT_MATH, ""
    if kind == "math" and cfg.check_math_answer:
        answer, answer_detail = check_math_answer(reasoning, source, cfg.answer_rel_tolerance)
        if answer == MATH_ANSWER:
            return _fail(MATH_ANSWER, answer_detail)
    return Verdict(fields={"instruction": instruction, "reasoning": reasoning, "steps": steps,
                           "answer_check": answer, "answer_detail": answer_detail})


def render_document(template: str, instruction: str, reasoning: str, answer: str) -> str:
    """One training text from the configured template (str.replace: the texts may hold braces)."""
    return (template.replace("{instruction}", instruction).replace("{reasoning}", reasoning)
            .replace("{answer}", answer.strip()))


# -- discipline QA (seed 002) -------------------------------------------------------------------

def parse_problem_solution(output: str) -> tuple[str, str] | None:
    p = _PROBLEM_LABEL.search(output)
    s = _SOLUTION_LABEL.search(output, p.end() if p else 0)
    if not p or not s:
        return None
    body = output[s.end() :]
    if (again := _PROBLEM_LABEL.search(body)) is not None:  # the model went on to a problem of its own
        body = body[: again.start()]
    problem, solution = output[p.end() : s.start()].strip(), complete_sentences(body.strip())
    return (problem, solution) if problem and solution else None


def latex_problem(text: str) -> str | None:
    """Why the LaTeX in ``text`` is broken (odd ``$``, unpaired ``\\(``/``\\[``/``\\begin``, unbalanced braces
    inside math), or None."""
    t = text.replace("\\$", "").replace("\\{", "").replace("\\}", "")
    if t.count("$") % 2:
        return f"{t.count('$')} '$' signs (odd)"
    for a, b in (("\\(", "\\)"), ("\\[", "\\]")):
        if t.count(a) != t.count(b):
            return f"{t.count(a)} '{a}' vs {t.count(b)} '{b}'"
    begins, ends = re.findall(r"\\begin\{([^}]*)\}", t), re.findall(r"\\end\{([^}]*)\}", t)
    if sorted(begins) != sorted(ends):
        return f"\\begin {sorted(begins)} vs \\end {sorted(ends)}"
    for span in re.findall(r"\$\$(.+?)\$\$|\$(.+?)\$", t, re.DOTALL):
        body = span[0] or span[1]
        depth = 0
        for ch in body:
            depth += {"{": 1, "}": -1}.get(ch, 0)
            if depth < 0:
                break
        if depth != 0:
            return f"unbalanced braces in ${body[:30]}$"
    return None


def _problem_failure(problem: str, seed: str, cfg: DisciplineQAConfig) -> Verdict | None:
    if content_length(problem) < cfg.min_problem_chars:
        return _fail(PROBLEM_SHORT, f"{content_length(problem)} < {cfg.min_problem_chars} chars")
    if not looks_like_task(problem):
        return _fail(PROBLEM_NOT_A_TASK, problem[:80])
    if leaning := refers_to_source(problem):
        return _fail(NOT_SELF_CONTAINED, f"{leaning!r} in {problem[:80]!r}")
    copied, detail = is_copy(problem, seed, cfg.ngram, cfg.max_problem_overlap)
    if copied:
        return _fail(PROBLEM_COPY, f"{detail} > {cfg.max_problem_overlap}")
    if broken := latex_problem(problem):
        return _fail(LATEX, broken)
    return None


def check_problem(output: str, seed: str, template: PromptTemplate, cfg: DisciplineQAConfig) -> Verdict:
    """Pass 1 of a two-pass discipline QA: the problem alone, judged as in ``check_discipline_qa``."""
    if (early := _unusable(output, template, cfg.min_problem_chars)) is not None:
        return early
    problem = _section(template.clean_output(output), _PROBLEM_LABEL, _SOLUTION_LABEL)
    if (bad := _problem_failure(problem, seed, cfg)) is not None:
        return bad
    return Verdict(fields={"lead": problem})


def check_discipline_qa(output: str, seed: str, template: PromptTemplate, cfg: DisciplineQAConfig) -> Verdict:
    """Seed 002's "[Problem] / [Solution]": a self-contained problem (not a copy of the seed), a solution
    step by step, LaTeX intact, in the seed's language."""
    failed, parsed = _sections(output, template, cfg.min_problem_chars, parse_problem_solution,
                               _fail(MALFORMED_QA, "no [Problem] / [Solution] sections"),
                               lambda problem: _problem_failure(problem, seed, cfg))
    if failed is not None:
        return failed
    problem, solution = parsed
    if content_length(solution) < cfg.min_solution_chars:
        return _fail(SOLUTION_SHORT, f"{content_length(solution)} < {cfg.min_solution_chars} chars")
    steps = count_steps(solution)
    if steps < cfg.min_steps:
        return _fail(SOLUTION_STEPS, f"{steps} < {cfg.min_steps} steps")
    if len(solution.split()) >= cfg.min_words_for_repetition and (rule := repetition_failure(solution)):
        return _fail(REPETITIVE, str(rule.rule))
    broken = latex_problem(f"{problem}\n{solution}")
    if broken:
        return _fail(LATEX, broken)
    if cfg.check_language:
        agree, detail = same_language(f"{problem} {solution}", seed, cfg.min_chars_for_language)
        if not agree:
            return _fail(LANGUAGE, detail)
    return Verdict(fields={"problem": problem, "solution": solution, "steps": steps})


def render_qa(problem: str, solution: str) -> str:
    """Seed 002's training format, verbatim sections (LaTeX untouched)."""
    return f"[Problem]\n{problem}\n\n[Solution]\n{solution}"
