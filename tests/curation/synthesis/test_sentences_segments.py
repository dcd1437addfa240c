"""The sentence splitter rebuilds its input exactly; segments are whole sentences; LLM splits are validated."""

from curation.synthesis import segments as seg
from curation.synthesis.sentences import complete_sentences, sentence_starts, split_sentences
from tests.curation.rewrite.helpers import PARAGRAPHS, PYTHON_SOURCE, ZH

ENGLISH = ("The with statement is used, e.g. in file handling. Dr. Smith wrote it in 2009! Is pi 3.14 here? "
           "J. R. R. Tolkien wrote books. It ends here")


def test_english_sentences_respect_abbreviations_initials_and_decimals():
    units = split_sentences(ENGLISH)
    assert "".join(units) == ENGLISH
    assert units == ["The with statement is used, e.g. in file handling. ", "Dr. Smith wrote it in 2009! ",
                     "Is pi 3.14 here? ", "J. R. R. Tolkien wrote books. ", "It ends here"]


def test_chinese_sentences_end_at_chinese_punctuation_and_keep_closing_quotes():
    units = split_sentences(ZH)
    assert "".join(units) == ZH and len(units) == 3
    assert units[0].endswith("讲话。") and units[1].endswith("祝贺。")
    quoted = "他说：“今天下雨了！”然后走了。"
    assert split_sentences(quoted) == ["他说：“今天下雨了！”", "然后走了。"]


def test_paragraphs_list_items_and_long_lines_are_boundaries_and_nothing_is_lost():
    text = "Intro line:\n- first item\n- second item\n\n" + PARAGRAPHS[0]
    units = split_sentences(text)
    assert "".join(units) == text
    assert units[:3] == ["Intro line:\n", "- first item\n", "- second item\n\n"]
    code = PYTHON_SOURCE * 4  # no sentence punctuation: cut at line breaks under the unit bound
    pieces = split_sentences(code, max_unit_chars=200)
    assert "".join(pieces) == code and max(len(p) for p in pieces) <= 200
    assert all(p.endswith("\n") for p in pieces[:-1])


def test_complete_sentences_drops_a_cut_off_tail_only():
    assert complete_sentences("One full sentence. Two full sentences. And a cut-off thou") == \
        "One full sentence. Two full sentences."
    assert complete_sentences("Only a fragment") == "Only a fragment"
    assert complete_sentences("第一句。第二句没有写") == "第一句。"


def test_rule_segments_group_whole_sentences_near_the_target_and_cover_the_source():
    text = "\n\n".join(PARAGRAPHS)
    units, _ = seg.units_of(text, 800)
    starts = seg.rule_segments(units, target_chars=400, max_chars=900)
    texts = seg.join_units(units, starts)
    assert len(texts) >= 3 and all(len(t.strip()) <= 900 for t in texts)
    assert seg.coverage_problem(text, texts, 800) is None


def test_llm_boundary_answers_are_parsed_or_refused_with_a_reason():
    assert seg.parse_boundaries("3, 5", 6, 8) == ([0, 2, 4], None)
    assert seg.parse_boundaries("Sentences that begin a new segment: 1, 4", 6, 8) == ([0, 3], None)
    assert seg.parse_boundaries("none", 6, 8) == ([0], None)
    assert seg.parse_boundaries("1. The with statement wraps a block.\n2. It", 6, 8) == (None, seg.NOT_A_NUMBER_LIST)
    assert seg.parse_boundaries("4, 9", 6, 8) == (None, seg.OUT_OF_RANGE)
    assert seg.parse_boundaries("4, 2", 6, 8) == (None, seg.NOT_INCREASING)
    assert seg.parse_boundaries("2, 3, 4", 6, 2) == (None, seg.TOO_MANY)


def test_coverage_problem_catches_lost_reordered_and_mid_sentence_segments():
    units = split_sentences(ENGLISH)
    good = ["".join(units[:2]), "".join(units[2:])]
    assert seg.coverage_problem(ENGLISH, good) is None
    lost = [good[0], good[1][10:]]
    reason, detail = seg.coverage_problem(ENGLISH, lost)
    assert reason == seg.LOST_TEXT and "first difference at character" in detail
    assert seg.coverage_problem(ENGLISH, good[::-1])[0] == seg.LOST_TEXT
    cut = len(units[0]) + 5  # inside the second sentence
    reason, detail = seg.coverage_problem(ENGLISH, [ENGLISH[:cut], ENGLISH[cut:]])
    assert reason == seg.MID_SENTENCE and f"character {cut}" in detail


def test_sentence_starts_are_increasing_and_begin_at_zero_on_unseen_text():
    for text in (ZH + PARAGRAPHS[1], "x" * 3000, "a\n\n\n\nb", "Ünïcode façade. Ça va? Oui."):
        starts = sentence_starts(text)
        assert starts[0] == 0 and starts == sorted(set(starts)) and starts[-1] < len(text)
