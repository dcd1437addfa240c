import pytest

from curation.rewrite.config import DEFAULT_PROMPTS_DIR, load_rewrite_config
from curation.rewrite.prompts import TemplateError, load_template, load_templates
from curation.rewrite.validate import ValidationConfig, validate_generation

SOURCE = (
    "The with statement is used to wrap the execution of a block with methods defined by a context manager. "
    "This allows common try, except and finally usage patterns to be encapsulated for convenient reuse."
)
PARAPHRASE = (
    "A with statement wraps the running of a code block in methods that a context manager defines, "
    "so that the usual try, except and finally patterns can be packaged once and reused conveniently."
)


@pytest.fixture(scope="module")
def templates():
    return load_templates(DEFAULT_PROMPTS_DIR, ["wrap_medium", "diverse_qa_pairs", "wrap_medium_zh"])


def test_templates_carry_the_papers_wording(templates):
    assert "paraphrase of the same in high-quality English language as in sentences on Wikipedia" in (
        templates["wrap_medium"].user
    )
    assert "ask up to 8 questions and provide the correct answers" in templates["diverse_qa_pairs"].user
    assert templates["diverse_qa_pairs"].system is None  # Nemotron-CC sends it without a system turn
    rendered = templates["wrap_medium"].render("a {brace} doc")
    assert rendered.endswith("a {brace} doc")


def test_output_preamble_is_stripped_and_not_counted_as_echo(templates):
    qa = templates["diverse_qa_pairs"]
    cleaned = qa.clean_output("Here are the questions and answers based on the provided text:\n- Question: a")
    assert cleaned == "- Question: a"
    assert all("here are the questions" not in line for line in qa.instruction_lines())
    assert "text:" not in qa.instruction_lines()  # too generic to be an echo


def test_bad_template_files_are_refused(tmp_path):
    (tmp_path / "noslot.yaml").write_text("name: noslot\nuser: rephrase this\nlength_ratio: [0.3, 2]\n")
    with pytest.raises(TemplateError, match="exactly once"):
        load_template(tmp_path / "noslot.yaml")
    with pytest.raises(TemplateError, match=r"no prompt template for style 'shakespeare'.*available: \['noslot'\]"):
        load_templates(tmp_path, ["shakespeare"])


@pytest.mark.parametrize(
    ("output", "reason"),
    [
        ("", "empty_output"),
        ("  ok  ", "empty_output"),
        (SOURCE.upper(), "identical_to_input"),
        (
            "For the following paragraph give me a paraphrase of the same in high-quality English language as in "
            "sentences on Wikipedia: " + PARAPHRASE,
            "prompt_echo",
        ),
        ("A with statement wraps a block in a context manager.", "length_ratio_low"),
        (PARAPHRASE * 3, "length_ratio_high"),
        (
            (
                "Une instruction with enveloppe l'exécution d'un bloc dans les méthodes définies par un gestionnaire "
                "de contexte, afin que les motifs try, except et finally soient réutilisés facilement."
            ),
            "language_mismatch",
        ),
        (
            # the loop SmolLM2-135M fell into on Python's `if` reference paragraph
            "The sentence is: the algorithm selects one of the suites. " * 3 + "The sentence is: the algorithm.",
            "repetitive_output",
        ),
        (PARAPHRASE, None),
    ],
)
def test_each_bad_generation_gets_its_named_reason(templates, output, reason):
    assert validate_generation(output, SOURCE, "en", templates["wrap_medium"], ValidationConfig()) == reason


def test_shipped_rewrite_yaml_loads_with_paper_defaults():
    config = load_rewrite_config(DEFAULT_PROMPTS_DIR.parent / "rewrite.yaml")
    assert config.chunk_tokens == 300 and config.selection.values == ("high",)
    assert config.prompts_dir == DEFAULT_PROMPTS_DIR
    load_templates(config.prompts_dir, config.styles)


def test_unknown_config_keys_are_named(tmp_path):
    path = tmp_path / "rewrite.yaml"
    path.write_text("chunk_tokenz: 100\n")
    with pytest.raises(ValueError, match=r"unknown keys \['chunk_tokenz'\]"):
        load_rewrite_config(path)
