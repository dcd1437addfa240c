"""Dedup at more than one granularity: repeated paragraphs cut across documents and categories, and
SemDeDup against the kept documents of earlier partitions (the global index)."""

import json
import sys

import numpy as np

from curation.dedup import DedupConfig, explain_removal
from curation.dedup.index import DedupIndex
from curation.dedup.paragraphs import split_paragraphs
from curation.lineage import main as lineage_cli
from tests.curation.dedup.helpers import paragraph, peoples_daily, run
from tests.curation.scoring.texts import stdlib_source

COPYRIGHT = " ".join(sys.copyright.split())  # a real licence header, as it opens many pages
SHORT = "See also:"  # a heading under paragraph_min_chars: never cut


def texts(lake, category) -> dict[str, str]:
    table = lake.read("deduped", category)
    return dict(zip(table.column("id").to_pylist(), table.column("text").to_pylist()))


def test_a_repeated_paragraph_is_cut_from_every_later_document_and_category(lake, capsys):
    docs = [("a1", f"{COPYRIGHT}\n\n{SHORT}\n\n{paragraph('assert')}"),
            ("a2", f"{COPYRIGHT}\n\n{SHORT}\n\n{paragraph('del')}"),
            ("a3", f"{SHORT}\n\n{COPYRIGHT}")]  # nothing of its own: dropped
    stats, kept, drops = run(lake, "site_a", docs)
    assert kept == ["a1", "a2"]
    got = texts(lake, "site_a")
    assert COPYRIGHT in got["a1"] and COPYRIGHT not in got["a2"] and got["a2"].startswith(SHORT)
    assert drops["a3"]["reason"] == "paragraph_duplicate" and drops["a3"]["duplicate_of"] == "a1"
    assert drops["a2"]["reason"] == "paragraph_edit" and drops["a2"]["duplicate_of"] == "a1"
    detail = json.loads(drops["a2"]["detail"])
    assert detail["paragraphs_removed"] == 1 and detail["chars_removed"] == len(COPYRIGHT)
    assert stats["drops_by_reason"] == {"paragraph_duplicate": 1}  # an edit is not a removal
    assert stats["paragraph"]["docs_edited"] == 1 and stats["paragraph"]["docs_emptied"] == 1

    # another category, later: the index holds a1's paragraphs
    stats_b, kept_b, drops_b = run(lake, "site_b", [("b1", f"{paragraph('pass')}\n\n{COPYRIGHT}")])
    assert kept_b == ["b1"] and COPYRIGHT not in texts(lake, "site_b")["b1"]
    assert drops_b["b1"]["duplicate_of"] == "a1" and stats_b["paragraph"]["paragraphs_removed_vs_index"] == 1

    # corpusforge why: an edit reads as an edit
    assert explain_removal(lake, "a2")["reason"] == "paragraph_edit"
    assert lineage_cli(["--home", str(lake.home), "a2"]) == 0
    assert "was kept by stage 'deduped' with 1 of 3 paragraphs cut" in capsys.readouterr().out

    # re-running a category gives the same result: its own earlier entries are retired first
    run(lake, "site_a", docs)
    assert texts(lake, "site_a") == got


def test_source_code_and_unique_text_are_left_alone(lake):
    a, b = stdlib_source("test/test_bisect.py"), stdlib_source("test/test_heapq.py")
    shared = 'if __name__ == "__main__":\n    unittest.main()'
    assert shared in a and shared in b
    _, kept, drops = run(lake, "src", [("c1", a), ("c2", b)])
    assert kept == ["c1", "c2"] and not drops and texts(lake, "src")["c2"] == b
    news = peoples_daily(n_lines=6)
    _, _, drops = run(lake, "zh", [("z1", news), ("z2", peoples_daily(n_lines=6, skip=40))])
    assert not drops
    assert split_paragraphs("one\ntwo") == ["one", "two"] and split_paragraphs("a\n\nb\nc") == ["a", "b\nc"]


def test_paragraph_dedup_can_be_turned_off_per_category(lake):
    docs = [("a1", f"{COPYRIGHT}\n\n{paragraph('assert')}"), ("a2", f"{COPYRIGHT}\n\n{paragraph('del')}")]
    _, kept, drops = run(lake, "raw_site", docs, DedupConfig(paragraph=False))
    assert kept == ["a1", "a2"] and not drops and COPYRIGHT in texts(lake, "raw_site")["a2"]


def bag_of_words(dim: int = 64):
    vocab: dict[str, int] = {}

    def embed(batch):
        out = np.zeros((len(batch), dim), dtype=np.float32)
        for i, t in enumerate(batch):
            for w in t.lower().replace(".", " ").split():
                out[i, vocab.setdefault(w, len(vocab) % dim)] += 1
        return out

    return embed


def test_semdedup_compares_a_new_partition_with_earlier_kept_documents(lake):
    embed = bag_of_words()
    cfg = DedupConfig(semantic=True, semantic_eps=0.01, near=False, paragraph=False, semantic_index_chunk=1)
    first = [("r1", "the cat sat on the mat today"), ("r2", "stock markets fell sharply in asian trading"),
             ("r3", "rain is expected across the north tomorrow")]
    stats_a, kept_a, _ = run(lake, "reviews_a", first, cfg, embedder=embed)
    assert kept_a == ["r1", "r2", "r3"] and stats_a["semantic"]["centroids_fitted_here"]
    later = [("s1", "today the cat sat on the mat"), ("s2", "a new library opened downtown"),
             ("s3", "trading in asian markets fell sharply stock")]
    stats_b, kept_b, drops_b = run(lake, "reviews_b", later, cfg, embedder=embed)
    assert kept_b == ["s2"]
    assert drops_b["s1"]["duplicate_of"] == "r1" and drops_b["s3"]["duplicate_of"] == "r2"
    assert json.loads(drops_b["s1"]["detail"])["duplicate_in_index"] is True
    sem = stats_b["semantic"]
    assert not sem["centroids_fitted_here"] and sem["index_vectors_before"] == 3 and sem["duplicates_vs_index"] == 2
    assert stats_b["dropped_cross_category"] == 2
    assert DedupIndex(lake.state_dir("deduped")).size()["embeddings"] == 4  # r1-r3 and s2

    # re-running the first category retires and re-stores its vectors: still 4, s-docs unaffected
    run(lake, "reviews_a", first, cfg, embedder=embed)
    assert DedupIndex(lake.state_dir("deduped")).size()["embeddings"] == 4
