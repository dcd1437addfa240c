import shutil
from dataclasses import replace

import pytest

from curation.rewrite.config import DEFAULT_PROMPTS_DIR, RewriteConfig, load_rewrite_config
from curation.rewrite.prompts import TemplateError, available_styles, load_template, load_templates
from curation.rewrite.validate import ValidationConfig, validate_generation
from tests.curation.rewrite.helpers import PYTHON_SOURCE

SOURCE = (
    "The with statement, added to Python in 2005 by PEP 343, wraps the execution of a block with methods defined "
    "by a context manager. This allows common try, except and finally usage patterns to be encapsulated for "
    "convenient reuse."
)
PARAPHRASE = (
    "A with statement, part of Python since 2005 through PEP 343, wraps the running of a code block in methods that "
    "a context manager defines, so that the usual try, except and finally patterns can be packaged once and reused."
)
SHIPPED = ["wrap_medium", "wrap_medium_zh", "diverse_qa_pairs", "distill", "extract_knowledge", "knowledge_list",
           "maga", "code_style_guided", "code_self_contained", "math_step_by_step"]


@pytest.fixture(scope="module")
def templates():
    return load_templates(DEFAULT_PROMPTS_DIR, SHIPPED)


def check(output, style="wrap_medium", source=SOURCE, templates=None, **kw):
    return validate_generation(output, source, "en", templates[style], ValidationConfig(), **kw)


def test_every_shipped_template_cites_its_paper_and_declares_its_kind(templates):
    assert set(SHIPPED) <= set(available_styles(DEFAULT_PROMPTS_DIR))
    for name, t in templates.items():
        assert any(y in t.source for y in ("2024", "2025")), name
        assert t.kinds and t.file_sha256
    assert templates["maga"].render("doc", genre="blog post", audience="retirees").count("blog post for retirees") == 1
    assert templates["wrap_medium"].render("a {brace} doc").endswith("a {brace} doc")
    assert "continues a longer document" in templates["distill"].render("part two", context="part one")
    with pytest.raises(TemplateError, match="needs slot values"):
        templates["maga"].render("doc")


@pytest.mark.parametrize(
    ("output", "reason"),
    [
        ("", "empty_output"),
        ("As an AI language model, I cannot rewrite copyrighted passages like this one.", "refusal"),
        (SOURCE.upper(), "identical_to_input"),
        ("Rewrite the passage below the way an encyclopedia article would state it: " + PARAPHRASE, "prompt_echo"),
        ("A with statement wraps a block.", "length_ratio_low"),
        (PARAPHRASE * 4, "length_ratio_high"),
        (
            ("Une instruction with, ajoutée à Python en 2005 par la PEP 343, enveloppe l'exécution d'un bloc dans les "
            "méthodes définies par un gestionnaire de contexte, afin que les motifs try, except et finally soient "
            "réutilisés facilement."),
            "language_mismatch",
        ),
        ("The sentence is: the algorithm selects one of the suites. " * 6 + "The sentence is: the algorithm.",
         "repetitive_output"),
        (PARAPHRASE.replace("2005", "1998").replace("343", "8"), "unfaithful_numbers"),
        (PARAPHRASE.replace("context manager defines", "manager that Guido van Rossum and Barry Warsaw at Google "
                            "defines"), "unfaithful_entities"),
        (("Cats sleep most of the afternoon in warm sunny windows, dreaming quietly of birds, fish and milk while "
         "their owners work remotely on laptops at kitchen tables."), "low_source_overlap"),
        (PARAPHRASE, None),
    ],
)
def test_each_bad_generation_gets_its_named_reason(templates, output, reason):
    assert check(output, templates=templates).reason == reason


def test_qa_pairs_are_parsed_cleaned_and_unsupported_answers_removed(templates):
    output = (
        "Here are the questions and answers:\n"
        "1. Question: When was the with statement added to Python? Answer: In 2005, by PEP 343.\n"
        "2. **Question:** What does the with statement wrap? **Answer:** A block, with methods of a context manager.\n"
        "3. Question: Who invented the with statement? Answer: It was invented in 1987 by Alan Turing at Oxford.\n"
    )
    verdict = check(output, "diverse_qa_pairs", templates=templates)
    assert verdict.reason is None
    assert verdict.text.count("Question: ") == 2 and "Turing" not in verdict.text  # the unsupported pair is gone
    assert check("Some thoughts on context managers in general and on the with statement.", "diverse_qa_pairs",
                 templates=templates).reason == "malformed_qa_pairs"
    assert check("Question: Who invented the with statement?\nAnswer: Alan Turing invented it at Oxford in 1987.",
                 "diverse_qa_pairs", templates=templates).reason == "qa_answers_unsupported"


def test_lists_and_code_are_post_processed_or_dropped(templates):
    listed = check("Key facts:\n- The with statement was added in 2005 by PEP 343.\n- It wraps a block with methods of "
                   "a context manager.\nThat's all!", "knowledge_list", templates=templates)
    assert listed.reason is None and listed.text.splitlines()[0].startswith("- The with") and "That's" not in listed.text
    assert check("The with statement wraps a block of code in context manager methods.", "knowledge_list",
                 templates=templates).reason == "malformed_list"
    fenced = f'Here you go:\n```python\n"""Split helpers."""\n{PYTHON_SOURCE}```\nHope it helps.'
    code = validate_generation(fenced, PYTHON_SOURCE, "en", templates["code_style_guided"], ValidationConfig(),
                               check_language=False)
    assert code.reason is None and code.text.startswith('"""Split helpers."""') and "Hope" not in code.text
    broken = validate_generation("```python\ndef split_extension(path:\n    return path\n```", PYTHON_SOURCE, "en", templates["code_style_guided"],
                                 ValidationConfig(), check_language=False)
    assert broken.reason == "syntax_error"


def test_math_allows_derived_numbers_but_not_a_made_up_problem(templates):
    source = "Find x if 3x + 5 = 20. Show your work. Posted by user123 on the forum, 12 replies."
    good = ("Problem: find x such that 3x + 5 = 20. Solution: subtract 5 from both sides to get 3x = 15, then "
            "divide by 3, so x = 5.")
    assert check(good, "math_step_by_step", source, templates, check_language=False).reason is None
    made_up = "Problem: find y such that 7y - 44 = 91. Solution: add 44 to get 7y = 135, so y = 19.29 or about 19."
    assert check(made_up, "math_step_by_step", source, templates, check_language=False).reason == "unfaithful_numbers"


def test_bad_template_files_are_refused(tmp_path):
    (tmp_path / "noslot.yaml").write_text("name: noslot\nuser: rephrase this\nlength_ratio: [0.3, 2]\n")
    with pytest.raises(TemplateError, match="exactly once"):
        load_template(tmp_path / "noslot.yaml")
    (tmp_path / "badpost.yaml").write_text("name: badpost\nuser: '{document}'\nlength_ratio: [0.3, 2]\npostprocess: x\n")
    with pytest.raises(TemplateError, match="postprocess 'x' not in"):
        load_template(tmp_path / "badpost.yaml")
    with pytest.raises(TemplateError, match=r"no prompt template for style 'shakespeare'"):
        load_templates(tmp_path, ["shakespeare"])


def test_shipped_config_routes_every_style_and_names_unknown_keys(tmp_path):
    config = load_rewrite_config(DEFAULT_PROMPTS_DIR.parent / "rewrite.yaml")
    assert config.prompts_dir == DEFAULT_PROMPTS_DIR
    assert set(SHIPPED) - {"wrap_medium_zh"} <= set(config.styles())
    assert config.routes["prose"]["low"] == ("wrap_medium",)  # Nemotron-CC: rephrase the low bucket
    (tmp_path / "rewrite.yaml").write_text("chunking: {chunk_tokenz: 100}\n")
    with pytest.raises(ValueError, match=r"chunking: unknown keys \['chunk_tokenz'\]"):
        load_rewrite_config(tmp_path / "rewrite.yaml")


def test_a_response_prefix_is_read_and_is_part_of_the_cache_digest(tmp_path):
    (tmp_path / "plain.yaml").write_text("name: plain\nuser: 'Ask about {document}'\nlength_ratio: [0.1, 5]\n")
    (tmp_path / "prefilled.yaml").write_text("name: prefilled\nuser: 'Ask about {document}'\n"
                                             "length_ratio: [0.1, 5]\nresponse_prefix: 'Question:'\n")
    plain, prefilled = load_template(tmp_path / "plain.yaml"), load_template(tmp_path / "prefilled.yaml")
    assert plain.response_prefix == "" and prefilled.response_prefix == "Question:"
    assert plain.digest != prefilled.digest  # a cached reply without the prefill is never reused with it
    (tmp_path / "bad.yaml").write_text("name: bad\nuser: '{document}'\nlength_ratio: [0.1, 5]\nresponse_prefix: [1]\n")
    with pytest.raises(TemplateError, match="response_prefix must be text"):
        load_template(tmp_path / "bad.yaml")


def test_qa_two_pass_blocks_are_checked_and_hashed(tmp_path):
    head = "name: qa\nuser: 'Pairs about {document}'\nlength_ratio: [0.1, 5]\npostprocess: qa_pairs\n"
    good = "qa_two_pass: {questions: 'Ask about {document}', answer: 'From {document} answer {question}'}\n"
    (tmp_path / "qa.yaml").write_text(head + good)
    first = load_template(tmp_path / "qa.yaml")
    assert first.qa_two_pass.render_answer("the text", "why?") == "From the text answer why?"
    assert first.qa_two_pass.max_questions == 6
    (tmp_path / "qa.yaml").write_text(head + good.replace("Ask about", "List questions on"))
    assert load_template(tmp_path / "qa.yaml").digest != first.digest  # the pass-1 wording is in the cache key
    for block, message in [
        ("qa_two_pass: {questions: 'Ask about {document}', answer: 'From {document}'}", "needs a {question} slot"),
        ("qa_two_pass: {questions: 'Ask', answer: 'From {document} {question}'}", "exactly once"),
        ("qa_two_pass: {questions: 'Ask {document}'}", r"lacks \['answer'\]"),
        (good.replace("answer:", "answr:"), r"unknown keys \['answr'\]"),
    ]:
        (tmp_path / "qa.yaml").write_text(head + block)
        with pytest.raises(TemplateError, match=message):
            load_template(tmp_path / "qa.yaml")
    (tmp_path / "qa.yaml").write_text(head.replace("qa_pairs", "list") + good)
    with pytest.raises(TemplateError, match="needs postprocess: qa_pairs"):
        load_template(tmp_path / "qa.yaml")


def test_code_version_hashes_the_prompt_text_not_its_path(tmp_path):
    shutil.copytree(DEFAULT_PROMPTS_DIR, tmp_path / "prompts")
    here, copy = RewriteConfig(), replace(RewriteConfig(), prompts_dir=tmp_path / "prompts")
    assert here.version == copy.version  # same text elsewhere: same version
    distill = tmp_path / "prompts" / "distill.yaml"
    distill.write_text(distill.read_text().replace("more concisely", "briefly"))
    assert replace(RewriteConfig(), prompts_dir=tmp_path / "prompts").version != here.version


def test_a_dropped_in_template_is_a_style_without_code_changes(tmp_path):
    shutil.copytree(DEFAULT_PROMPTS_DIR, tmp_path / "prompts")
    (tmp_path / "prompts" / "tutorial.yaml").write_text(
        "name: tutorial\nsource: our own style\nsystem: null\nuser: |-\n  Turn this into a tutorial:\n  {document}\n"
        "kinds: [prose]\ninput_languages: [en]\nlength_ratio: [0.3, 3.0]\n")
    (tmp_path / "rewrite.yaml").write_text("prompts_dir: prompts\nroutes: {prose: {high: [tutorial]}}\n")
    config = load_rewrite_config(tmp_path / "rewrite.yaml")
    assert config.styles() == ("tutorial",)
    assert load_templates(config.prompts_dir, config.styles())["tutorial"].render("x").endswith("x")
