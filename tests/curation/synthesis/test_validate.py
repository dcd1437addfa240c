"""Each validation rule drops the output it exists for, with its reason, and keeps a good one."""

from dataclasses import replace

from curation.rewrite.prompts import load_templates
from curation.synthesis import validate as val
from curation.synthesis.config import CotConfig, DisciplineQAConfig, SummaryConfig, SynthesisConfig
from tests.curation.rewrite.helpers import PARAGRAPHS, ZH
from tests.curation.synthesis.helpers import CONFIG, GOOD_QA

TEMPLATES = load_templates(SynthesisConfig().prompts_dir, ["cot_summary", "cot_synthesis", "discipline_qa"])
SEGMENT = PARAGRAPHS[0]  # the Python reference on the `with` statement
SUMMARY = TEMPLATES["cot_summary"]
COT = TEMPLATES["cot_synthesis"]
QA = TEMPLATES["discipline_qa"]
CHAMP = ("Problem (Number Theory):\nFind the number of positive divisors of 12.\n\nSolution:\n"
         "12 = 2^2 * 3, so the divisors are 2^a * 3^b with a in {0, 1, 2} and b in {0, 1}.\n"
         "That gives 3 * 2 choices.\n\nAnswer: 6")


def test_a_short_faithful_abstract_passes_and_bad_ones_fail_with_their_reason():
    cfg = SummaryConfig()
    ok = val.check_summary("Summary: The with statement wraps a block in the methods of a context manager.",
                           SEGMENT, SUMMARY, cfg)
    assert ok.ok and ok.fields["summary"].startswith("The with statement") and ok.fields["length_ratio"] < 0.75
    assert val.check_summary(SEGMENT, SEGMENT, SUMMARY, cfg).reason == val.SUMMARY_COPY
    extract = val.check_summary(SEGMENT.split(". ")[0] + ".", SEGMENT, SUMMARY, cfg)  # its first sentence
    assert extract.reason == val.SUMMARY_COPY and "(verbatim)" in extract.detail
    long = " ".join(reversed(SEGMENT.split())) + "."  # as long as the segment, in other word order: no copy, no abstract
    assert val.check_summary(long, SEGMENT, SUMMARY, cfg).reason == val.SUMMARY_NOT_SHORTER
    assert val.check_summary("ok", SEGMENT, SUMMARY, cfg).reason == val.EMPTY
    assert val.check_summary("As an AI language model, I cannot summarize this.", SEGMENT, SUMMARY,
                             cfg).reason == val.REFUSAL
    invented = val.check_summary("The with statement, added in 1997, wraps a block with a context manager.",
                                 SEGMENT, SUMMARY, cfg)
    assert invented.reason == val.SUMMARY_NUMBERS and "1997" in invented.detail
    english_for_chinese = val.check_summary("This is the New Year speech of 1998 given on the national radio.",
                                            ZH, SUMMARY, cfg)
    assert english_for_chinese.reason == val.LANGUAGE and "en != zh" in english_for_chinese.detail


GOOD_COT = """Question: What does the with statement do, and why is it useful?
Reasoning:
1. The text describes a statement that wraps the execution of a block.
2. The wrapping uses methods defined by a context manager, which run before and after the block.
3. Because the setup and cleanup live in the context manager, common try and finally patterns can be reused.
4. So the statement exists to encapsulate those patterns for convenient reuse."""


def test_a_question_with_stepwise_reasoning_passes():
    verdict = val.check_cot(GOOD_COT, SEGMENT, "prose", COT, CotConfig())
    assert verdict.ok, verdict
    assert verdict.fields["instruction"] == "What does the with statement do, and why is it useful?"
    assert verdict.fields["steps"] == 4 and verdict.fields["answer_check"] == val.ANSWER_NOT_MATH


def test_cot_failures_each_have_their_reason():
    cfg = CotConfig()
    reasoning = GOOD_COT.split("Reasoning:", 1)[1]
    first_sentence = SEGMENT.split(". ")[0] + "."
    cases = {
        val.MALFORMED_COT: "The with statement is nice. It wraps blocks.",
        val.NOT_A_TASK: "Question: The with statement and context managers.\nReasoning:" + reasoning,
        val.NOT_SELF_CONTAINED: "Question: What question does this text answer?\nReasoning:" + reasoning,
        val.INSTRUCTION_COPY: f"Question: {first_sentence}?\nReasoning:" + reasoning,
        val.REASONING_SHORT: "Question: What does the with statement do?\nReasoning: It wraps a block.",
        val.REASONING_STEPS: "Question: What does the with statement do?\nReasoning: " + "It wraps the execution of "
                             "a block with methods that a context manager defines, which is very convenient indeed "
                             "for every programmer who writes code that must always clean up after itself, whether the "
                             "block finishes normally or raises an exception, and whether the resource is a file, a "
                             "lock or a network connection",
        val.REASONING_COPY: "Question: What does the with statement do?\nReasoning:\n" + SEGMENT,
        val.NUMBERS: "Question: What does the with statement do?\nReasoning:\n1. It was added to the language in 2005 "
                     "after 12 people argued about it.\n2. It wraps a block with methods defined by a context manager "
                     "in about 30 lines of code.\n3. It is used by 90 percent of programs and by 7 of the libraries "
                     "that ship with the interpreter.",
        val.PROMPT_ECHO: "What question or task does this text answer? Write it on the first line, starting with "
                         "\"Question:\".",
    }
    for reason, output in cases.items():
        assert val.check_cot(output, SEGMENT, "prose", COT, cfg).reason == reason, reason


def test_math_reasoning_is_checked_against_the_sources_final_answer():
    cfg = CotConfig()
    right = ("Question: How many positive divisors does 12 have?\nReasoning:\n1. Factor 12 into primes as 2^2 * 3.\n"
             "2. Every divisor is a product of these primes: it picks an exponent of 2 from 0 to 2 and an exponent "
             "of 3 from 0 to 1, independently of each other.\n"
             "3. Counting the independent choices gives 3 * 2 divisors in all, so the answer is 6.")
    verdict = val.check_cot(right, CHAMP, "math", COT, cfg)
    assert verdict.ok and verdict.fields["answer_check"] == val.ANSWER_MATCH
    wrong = right.replace("so the answer is 6", "so the answer is 5")
    failed = val.check_cot(wrong, CHAMP, "math", COT, replace(cfg, math_max_unsupported_number_share=1.0))
    assert failed.reason == val.MATH_ANSWER and "ends on 5, source answer 6" in failed.detail
    no_answer = CHAMP.rsplit("\n\nAnswer", 1)[0]
    assert val.check_cot(right, no_answer, "math", COT, cfg).fields["answer_check"] == val.ANSWER_NONE_IN_SOURCE
    assert val.source_answer("... so \\boxed{\\frac{3}{4}} is the probability") == "\\frac{3}{4}"
    assert val.reasoning_answer("We get $\\boxed{0.75}$.") == val._number("\\frac{3}{4}")
    assert val._number("2^{10}") is None and val._number("x = 12 apples") == 12


def test_task_detection_and_ngram_copy_in_english_and_chinese():
    assert val.looks_like_task("Explain how a context manager cleans up.")
    assert val.looks_like_task("为什么一九九八年的新年讲话很重要？") and val.looks_like_task("请解释这篇讲话的主题")
    assert not val.looks_like_task("The with statement.")
    copied, detail = val.is_copy(ZH[:40], ZH, 5, 0.6)
    assert copied and "verbatim" in detail
    assert not val.is_copy("这篇讲话回顾了哪一年的成就？", ZH, 5, 0.6)[0]


SEED = ("If CO2 is nonpolar how come much more dissolves in water than O2? The graph shows how the volume and "
        "solubility of gases change with temperature at constant pressure.")


def test_discipline_qa_keeps_latex_verbatim_and_drops_malformed_or_copied_pairs():
    cfg = DisciplineQAConfig()
    verdict = val.check_discipline_qa(GOOD_QA, SEED, QA, cfg)
    assert verdict.ok, verdict
    text = val.render_qa(verdict.fields["problem"], verdict.fields["solution"])
    assert r"$\frac{V_1}{T_1} = \frac{V_2}{T_2}$" in text and text.startswith("[Problem]\n")
    assert val.check_discipline_qa(GOOD_QA.replace("[Solution]", "Then:"), SEED, QA, cfg).reason == val.MALFORMED_QA
    broken = GOOD_QA.replace(r"$V_2 = V_1 \cdot \frac{T_2}{T_1}$", r"$V_2 = V_1 \cdot \frac{T_2}{T_1}")
    assert val.check_discipline_qa(broken, SEED, QA, cfg).reason == val.LATEX
    copied = f"[Problem]\n{SEED}\n\n[Solution]" + GOOD_QA.split("[Solution]", 1)[1]
    assert val.check_discipline_qa(copied, SEED, QA, cfg).reason == val.PROBLEM_COPY
    leaning = GOOD_QA.replace("What volume does it occupy?", "What does the material say about its volume?")
    assert val.check_discipline_qa(leaning, SEED, QA, cfg).reason == val.NOT_SELF_CONTAINED
    assert val.refers_to_source("这段文字讲了什么？") and not val.refers_to_source("What is the with statement for?")
    short = "[Problem]\nWhat volume does a heated gas occupy?\n\n[Solution]\nIt grows."
    assert val.check_discipline_qa(short, SEED, QA, cfg).reason == val.SOLUTION_SHORT
    assert val.latex_problem(r"$\frac{1}{2$") is not None and val.latex_problem(r"\begin{align} x \end{align}") is None


def test_a_lead_labelled_twice_keeps_the_text_after_its_last_label():
    from curation.synthesis.validate import check_problem

    cfg = CONFIG.discipline_qa
    template = CONFIG.templates()[cfg.template]
    out = ("[Problem]\nHere is a sample of a physics problem and its solution:\n\nProblem:\nA ball is dropped "
           "from 20 m. How long does it take to reach the ground?")
    verdict = check_problem(out, "Free fall: an object falls with constant acceleration g.", template, cfg)
    assert verdict.ok and verdict.fields["lead"] == "A ball is dropped from 20 m. How long does it take to reach the ground?"
