import json

import numpy as np

from curation.decontam.config import DecontamConfig
from curation.decontam.index import EvalIndex, EvalItem
from curation.decontam.ngrams import ngram_hashes, tokens
from curation.decontam.sources import evalset_items, humaneval_items
from curation.document import SkipCounter
from tests.curation.training.tiny_lm import chinese_texts, english_texts


def test_tokens_normalise_case_punctuation_and_split_cjk_characters():
    assert tokens("Hello, WORLD!  中文abc") == ["hello", "world", "中", "文", "abc"]
    assert np.array_equal(ngram_hashes(tokens("a b c d"), 3), ngram_hashes(tokens("A, b; C d"), 3))
    assert ngram_hashes(tokens("a b"), 3).size == 0


def test_an_item_pasted_with_edits_is_found_and_clean_text_is_not():
    items = [EvalItem("bench", str(i), t) for i, t in enumerate(english_texts(20)[10:20])]
    index = EvalIndex.build(items, 13)
    pasted = "Intro words. " + items[3].text[:1200].replace(" the ", " a ", 3) + " Outro."
    match = index.match(pasted)
    assert match.item_id == "3" and match.overlap > 0.5 and len(match.ngram.split()) == 13
    assert index.match(english_texts(5)[0]) is None


def test_chinese_is_matched_by_characters():
    zh = chinese_texts(40)
    index = EvalIndex.build([EvalItem("bench", "z", zh[30])], 13)
    assert index.match(f"前言。{zh[30]}后记").overlap == 1.0
    assert index.match(zh[2]) is None or index.match(zh[2]).overlap < 0.1


def test_index_is_cached_by_content(tmp_path):
    items = [EvalItem("bench", "1", english_texts(1)[0])]
    first, cached = EvalIndex.cached(items, 13, tmp_path)
    again, cached_again = EvalIndex.cached(items, 13, tmp_path)
    assert not cached and cached_again and np.array_equal(first.hashes, again.hashes)
    _, cached_changed = EvalIndex.cached([EvalItem("bench", "1", "other " * 20)], 13, tmp_path)
    assert not cached_changed


def test_evalsets_read_text_or_prompt_answer_and_count_bad_lines(tmp_path):
    (tmp_path / "mine.jsonl").write_text("\n".join([
        json.dumps({"id": "a", "text": "some text"}),
        json.dumps({"prompt": "What is 2+2?", "answer": "4"}),
        "{not json",
        json.dumps({"question": "no text field"}),
    ]) + "\n")
    skipped = SkipCounter()
    items = evalset_items(tmp_path, skipped)
    assert [(i.item_id, i.text) for i in items] == [("a", "some text"), ("2", "What is 2+2?\n4")]
    assert skipped.counts == {"invalid_json": 1, "no_text_or_prompt": 1}
    assert skipped.examples[0]["line"] == 3


def test_humaneval_ships_in_its_package():
    items = humaneval_items()
    assert len(items) == 164 and items[0].item_id == "HumanEval/0"


def test_config_refuses_unknown_keys():
    try:
        DecontamConfig.from_dict({"ngram": 13})
    except ValueError as exc:
        assert "ngram" in str(exc)
    else:
        raise AssertionError("unknown key accepted")
