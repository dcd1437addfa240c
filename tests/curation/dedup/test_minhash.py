import numpy as np
from datasketch import MinHash, MinHashLSH

from curation.dedup.clusters import clusters_with_survivors, survivor_key
from curation.dedup.config import DedupConfig
from curation.dedup.minhash import band_keys, estimated_jaccard, lsh_params, signatures, verify_threshold
from curation.dedup.normalize import normalize_batch, normalize_near
from curation.dedup.shingles import shingle_batch, shingle_hash, shingle_strings, shingle_texts
from tests.curation.dedup.helpers import paragraph, peoples_daily


def test_signatures_equal_datasketch_minhash():
    config = DedupConfig()
    texts = [normalize_near(t, config) for t in (paragraph("assert"), peoples_daily(), "too short")]
    sh = shingle_texts(texts, config)
    sig = signatures(sh.hashes, sh.offsets, config)
    for i, text in enumerate(texts):
        reference = MinHash(num_perm=config.num_perm, seed=config.seed, hashfunc=shingle_hash)
        reference.update_batch(shingle_strings(text, config))
        assert np.array_equal(reference.hashvalues, sig[i])


def test_batch_normalisation_and_shingles_match_the_scalar_rules():
    config = DedupConfig()
    raw = [paragraph("pass"), "  Hello,   World!! ", "中文，文本 测试。", "!!!", "Ｆｕｌｌ　width\u00a0x", "...a"]
    norm = normalize_batch(raw, config)
    sh = shingle_batch(norm.near_cps, norm.near_lengths, config)
    for i, text in enumerate(raw):
        expected = [shingle_hash(s) for s in shingle_strings(normalize_near(text, config), config)]
        assert sh.hashes[sh.offsets[i]:sh.offsets[i + 1]].tolist() == expected


def test_lsh_parameters_for_threshold_08_match_datasketch():
    bands, rows = lsh_params(0.8, 128, 0.5, 0.5)
    lsh = MinHashLSH(threshold=0.8, num_perm=128)
    assert (bands, rows) == (lsh.b, lsh.r) == (9, 13)
    # S-curve: pairs well above the threshold are almost always candidates, dissimilar ones almost never
    p = lambda s: 1 - (1 - s**rows) ** bands
    assert p(0.95) > 0.99 and p(0.9) > 0.9 and p(0.5) < 0.002
    # our default weights false negatives 9:1 (candidates are verified anyway): more bands, fewer rows
    config = DedupConfig()
    bands, rows = lsh_params(config.threshold, config.num_perm, config.fp_weight, config.fn_weight)
    assert (bands, rows) == (23, 11) and bands * rows <= config.num_perm
    assert 1 - (1 - 0.8**rows) ** bands > 0.85


def test_verify_threshold_is_one_standard_error_below_the_threshold():
    # SE of the MinHash estimate at J = 0.8: sqrt(0.8 * 0.2 / 256) = 0.025
    assert abs(verify_threshold(DedupConfig()) - 0.775) < 1e-12
    assert abs(verify_threshold(DedupConfig(num_perm=128, verify_tolerance_se=2)) - (0.8 - 2 * 0.4 / 128**0.5)) < 1e-12
    assert verify_threshold(DedupConfig(verify_tolerance_se=0)) == 0.8


def test_estimate_error_matches_the_standard_error_it_is_tolerated_by():
    # 400 pairs of shingle-hash sets at Jaccard exactly 0.8: the estimate is unbiased, spread sqrt(J(1-J)/num_perm)
    config = DedupConfig()
    n_shared = 888  # |A & B| / |A | B| = 888 / (888 + 2 * 111) = 0.8
    rng = np.random.default_rng(0)
    ests = []
    for _ in range(400):
        base = rng.integers(0, 2**32, n_shared + 2 * 111, dtype=np.uint64).astype(np.uint32)
        a, b = base[:n_shared + 111], np.concatenate([base[:n_shared], base[n_shared + 111:]])
        sig = signatures(np.concatenate([a, b]), np.array([0, len(a), len(a) + len(b)]), config)
        ests.append(float(estimated_jaccard(sig[0], sig[1])))
    se = (0.8 * 0.2 / config.num_perm) ** 0.5
    assert abs(np.mean(ests) - 0.8) < 3 * se / 20 and 0.8 * se < np.std(ests) < 1.2 * se


def test_identical_bands_give_identical_keys():
    sig = np.tile(np.arange(128, dtype=np.uint32), (2, 1))
    sig[1, 13:] += 1  # only band 0 (columns 0..12) equal
    keys = band_keys(sig, 9, 13)
    assert keys[0, 0] == keys[1, 0] and (keys[0, 1:] != keys[1, 1:]).all()


def test_cluster_survivor_rule():
    # nodes: 0 short new doc, 1 long new doc "b", 2 long new doc "a", 3 index doc (shortest), 4-5 separate pair
    keys = [survivor_key(False, 10, "c"), survivor_key(False, 50, "b"), survivor_key(False, 50, "a"),
            survivor_key(True, 5, "z"), survivor_key(False, 7, "q"), survivor_key(False, 7, "p")]
    clusters = dict(clusters_with_survivors(6, np.array([[0, 1], [1, 2], [4, 5]]), keys))
    assert clusters[2] == [2, 1, 0]  # longest wins, tie -> smallest id ("a" before "b"), chain joins 0
    assert clusters[5] == [5, 4]
    with_index = clusters_with_survivors(6, np.array([[0, 1], [1, 2], [2, 3]]), keys)
    assert with_index[0][0] == 3  # an already-kept index document always survives
