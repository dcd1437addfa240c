import json
import multiprocessing as mp

import numpy as np
import pyarrow.parquet as pq
import pytest

from curation.dedup import DedupConfig, explain_removal, sample_removed_pairs
from curation.dedup.index import IndexVersionError
from curation.dedup.minhash import band_keys, estimated_jaccard, lsh_params, signatures, verify_threshold
from curation.dedup.normalize import normalize_near
from curation.dedup.shingles import shingle_strings, shingle_texts
from curation.lake import Lake
from curation.lineage import main as lineage_cli
from tests.curation.dedup.helpers import paragraph, peoples_daily, read_drops, run


def edited(text: str) -> str:
    """A realistic near-duplicate: one word changed, punctuation and whitespace shuffled, tail truncated."""
    return text.replace("debugging", "testing").replace(",", " ;").replace(". ", ".\n\n")[:-40]


def test_exact_duplicate_dropped_with_duplicate_of(lake):
    p = paragraph("pass")
    _, kept, drops = run(lake, "en", [("d1", p), ("d2", "  " + p.upper().replace(" ", "\t ")), ("d3", paragraph("del"))])
    assert kept == ["d1", "d3"]
    assert drops["d2"]["reason"] == "exact_duplicate" and drops["d2"]["duplicate_of"] == "d1"


def test_near_duplicate_dropped_and_hard_negative_kept(lake):
    p = paragraph("assert")
    # hard negative: same boilerplate template, different real content
    boilerplate = "Share this page! Subscribe to our newsletter for weekly Python tips and tricks.\n"
    stats, kept, drops = run(lake, "en", [("orig", boilerplate + p), ("edit", edited(p)),
                                          ("neg", boilerplate + paragraph("global"))])
    assert kept == ["orig", "neg"]
    assert drops["edit"]["reason"] == "near_duplicate" and drops["edit"]["duplicate_of"] == "orig"
    assert drops["edit"]["similarity"] >= 0.8
    assert stats["drops_by_reason"] == {"near_duplicate": 1} and stats["near_clusters"] == 1
    assert "orig" in stats["sample_pairs_markdown"]


def test_cjk_near_duplicate_found_by_character_shingles(lake):
    news = peoples_daily(n_lines=4)
    copy = news[:-12] + "（新华社）"  # truncated tail, agency byline appended
    other = peoples_daily(n_lines=4, skip=20)
    stats, kept, drops = run(lake, "zh", [("z1", news), ("z2", copy), ("z3", other)])
    assert kept == ["z1", "z3"] and drops["z2"]["reason"] == "near_duplicate"
    assert stats["docs_char_shingled"] == 3


def test_cross_category_dedup_through_the_persistent_index(lake):
    p = paragraph("assert")
    run(lake, "web", [("w1", p), ("w2", paragraph("del"))])
    stats, kept, drops = run(lake, "books", [("b1", edited(p)), ("b2", paragraph("pass")), ("b3", paragraph("del"))])
    assert kept == ["b2"]
    assert drops["b1"]["duplicate_of"] == "w1" and drops["b1"]["reason"] == "near_duplicate"
    assert drops["b3"]["duplicate_of"] == "w2" and drops["b3"]["reason"] == "exact_duplicate"
    assert stats["index_docs_before"] == 2 and stats["candidate_pairs_vs_index"] >= 1


def test_incremental_partition_does_not_recompute_earlier_signatures(lake):
    first = [(f"a{i}", paragraph(t)) for i, t in enumerate(["assert", "del", "pass", "global"])]
    run(lake, "a", first)
    index = lake.state_dir("deduped") / "index.duckdb"
    before = _index_rows(index, "a")
    s2, _, _ = run(lake, "b", [("b0", paragraph("return"))])
    expected = len(shingle_strings(normalize_near(paragraph("return"), DedupConfig()), DedupConfig()))
    assert s2["docs_in"] == 1 and s2["shingles"] == expected  # only b's one document was hashed
    assert s2["index_docs_before"] == 4 and s2["index"]["docs"] == 5
    assert _index_rows(index, "a") == before  # a's signatures are read, never rewritten


def _index_rows(path, category):
    import duckdb

    con = duckdb.connect(str(path), read_only=True)
    try:
        return con.execute("SELECT doc_id, sig FROM docs WHERE category = ? ORDER BY doc_id", [category]).fetchall()
    finally:
        con.close()


def test_rematerializing_gives_the_same_output(lake):
    p, q = paragraph("assert"), paragraph("pass")
    a_docs = [("a1", p), ("a2", edited(p)), ("a3", q)]
    b_docs = [("b1", q + " "), ("b2", paragraph("del"))]
    first = [run(lake, "a", a_docs)[1:], run(lake, "b", b_docs)[1:]]
    again = [run(lake, "a", a_docs)[1:], run(lake, "b", b_docs)[1:]]
    assert first == again
    assert first[1][1]["b1"]["duplicate_of"] == "a3"


def test_bad_inputs_each_follow_a_rule(lake):
    huge = " ".join(f"w{i}" for i in range(5000))
    config = DedupConfig(max_shingles=1000)
    docs = [("empty", ""), ("blank", " \n\t "), ("short", "hi there"), ("short2", "Hi,  there!"),
            ("punct", "!!!"), ("huge", huge), ("huge_tail_edit", huge + " different ending words here"),
            ("mixed", "Python 是一种广泛使用的解释型、高级和通用的编程语言 and more")]
    stats, kept, drops = run(lake, "bad", docs, config)
    assert {d for d, r in drops.items() if r["reason"] == "empty_text"} == {"empty", "blank"}
    # shorter than one shingle: the whole near text "hi there" is the one shingle, so punctuation aside they match
    assert drops["short"]["reason"] == "near_duplicate" and drops["short"]["duplicate_of"] == "short2"
    assert drops["short"]["similarity"] == 1.0
    assert "punct" in kept and "mixed" in kept
    # capped: only the first 1000 shingles count, so a difference past the cap is invisible (documented)
    assert stats["docs_shingles_capped"] == 2 and drops["huge"]["duplicate_of"] == "huge_tail_edit"
    assert stats["docs_char_shingled"] == 1  # "mixed" is mostly CJK


def test_missing_columns_and_bad_category_are_clear_errors(lake):
    import pyarrow as pa

    from curation.dedup import dedup_partition
    from curation.document import DOC_SCHEMA, DROP_SCHEMA
    from curation.lake import PartitionWriter

    out = PartitionWriter(lake.stage_dir("deduped", "x"), DOC_SCHEMA)
    drops = PartitionWriter(lake.drops_dir("deduped", "x"), DROP_SCHEMA)
    with pytest.raises(ValueError, match="no 'id' column"):
        dedup_partition([pa.RecordBatch.from_pydict({"text": ["a"]})], "x", lake, DedupConfig(), out, drops)
    with pytest.raises(ValueError, match="invalid category"):
        dedup_partition([], "../x", lake, DedupConfig(), out, drops)
    with pytest.raises(ValueError, match="embedder"):
        dedup_partition([], "x", lake, DedupConfig(semantic=True), out, drops)
    out.abort()
    drops.abort()


def test_index_refuses_signatures_from_other_parameters(lake):
    run(lake, "a", [("a1", paragraph("pass"))])
    with pytest.raises(IndexVersionError, match="not comparable"):
        run(lake, "b", [("b1", paragraph("pass"))], DedupConfig(num_perm=64))


def test_explain_removal_and_cli(lake, capsys):
    p = paragraph("assert")
    run(lake, "web", [("w1", p)])
    run(lake, "books", [("b1", edited(p))])
    why = explain_removal(lake, "b1")
    assert why["reason"] == "near_duplicate" and why["duplicate_of"] == "w1" and why["detail"]["method"] == "minhash_lsh"
    assert why["text"].startswith('The "assert"') and "testing" in why["text"] and "debugging" in why["duplicate_text"]
    assert explain_removal(lake, "w1") is None
    assert lineage_cli(["--home", str(lake.home), "b1"]) == 0
    assert "duplicate of w1" in capsys.readouterr().out
    pairs = sample_removed_pairs(lake, "books")
    assert [(x["doc_id"], x["duplicate_of"]) for x in pairs] == [("b1", "w1")]


def _worker(home, category, docs):
    run(Lake(home), category, docs)


def test_parallel_categories_serialise_on_the_index_lock(lake):
    shared = paragraph("assert")
    ctx = mp.get_context("spawn")
    procs = [ctx.Process(target=_worker, args=(lake.home, c, [(f"{c}1", shared), (f"{c}2", paragraph(t))]))
             for c, t in (("x", "del"), ("y", "pass"))]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(60)
        assert proc.exitcode == 0
    drops = {**read_drops(lake, "x"), **read_drops(lake, "y")}
    assert list(drops) in (["x1"], ["y1"])  # exactly one copy of the shared document survives


def test_semantic_dedup_with_injected_embedder(lake):
    # A deterministic bag-of-words embedder: the stage only needs texts -> vectors.
    vocab = {}

    def embed(texts):
        out = np.zeros((len(texts), 64), dtype=np.float32)
        for i, t in enumerate(texts):
            for w in t.lower().split():
                out[i, vocab.setdefault(w, len(vocab) % 64)] += 1
        return out

    docs = [("s1", "the cat sat on the mat today"), ("s2", "today the cat sat on the mat"),
            ("s3", "stock markets fell sharply in asian trading")]
    _, kept, drops = run(lake, "sem", docs, DedupConfig(semantic=True, semantic_eps=0.01), embedder=embed)
    assert kept == ["s1", "s3"] and drops["s2"]["reason"] == "semantic_duplicate"
    assert drops["s2"]["duplicate_of"] == "s1" and json.loads(drops["s2"]["detail"])["method"] == "semdedup"


@pytest.mark.slow
def test_semantic_dedup_with_real_minilm(lake):
    from curation.embeddings import load_embedder

    docs = [("m1", "The weather is lovely today, perfect for a walk in the park."),
            ("m2", "Today the weather is lovely - perfect for walking in the park."),
            ("m3", "Quarterly revenue grew twelve percent on strong cloud sales."),
            ("m4", "Photosynthesis converts light energy into chemical energy in plants.")]
    _, kept, drops = run(lake, "mini", docs, DedupConfig(semantic=True, semantic_eps=0.1, near=False),
                         embedder=load_embedder())
    assert kept == ["m2", "m3", "m4"] and drops["m1"]["duplicate_of"] == "m2"  # the longer one survives
    assert drops["m1"]["similarity"] > 0.9


def test_kept_documents_keep_their_columns(lake):
    run(lake, "cols", [("c1", paragraph("pass"))])
    table = pq.read_table(lake.files("deduped", "cols")[0])
    assert table.column_names == ["id", "text", "category", "source_shard", "source_line", "meta"]


def _pair_estimated_between(base: str, low: float, high: float, config: DedupConfig) -> str:
    """A copy of ``base`` with every k-th word replaced, for the first k whose MinHash estimate against ``base``
    lies in [low, high) and that shares an LSH band with it (so the verification step decides)."""
    words = base.split(" ")
    for k in range(40, 2, -1):
        copy = " ".join("replaced" if i % k == 0 else w for i, w in enumerate(words))
        sh = shingle_texts([normalize_near(t, config) for t in (base, copy)], config)
        sig = signatures(sh.hashes, sh.offsets, config)
        keys = band_keys(sig, *lsh_params(config.threshold, config.num_perm, config.fp_weight, config.fn_weight))
        if low <= estimated_jaccard(sig[0], sig[1]) < high and (keys[0] == keys[1]).any():
            return copy
    raise AssertionError("no edit rate gives an estimate in the window")


def test_verification_tolerates_one_standard_error_below_the_threshold(lake, tmp_path):
    config = DedupConfig()
    base = " ".join(paragraph(t) for t in ("assert", "global", "for"))
    copy = _pair_estimated_between(base, verify_threshold(config), config.threshold, config)
    _, kept, drops = run(lake, "tol", [("base", base), ("copy", copy)])
    assert len(kept) == 1 and len(drops) == 1  # the survivor is the longer one (clusters.py)
    (drop,) = drops.values()
    assert drop["reason"] == "near_duplicate" and drop["duplicate_of"] == kept[0]
    assert verify_threshold(config) <= drop["similarity"] < config.threshold
    assert json.loads(drop["detail"])["verify_threshold"] == 0.775
    # the plain "estimate >= threshold" rule keeps it (fresh lake: the first one's index holds base)
    _, kept, _ = run(Lake(tmp_path / "strict"), "tol", [("base", base), ("copy", copy)],
                     DedupConfig(verify_tolerance_se=0))
    assert kept == ["base", "copy"]
