"""Language ID, KenLM perplexity, the DCLM fastText classifier, the edu regressor, the ensemble."""

import math

import numpy as np
import pytest
from sklearn.feature_extraction.text import HashingVectorizer

from curation.scoring import (
    DCLMClassifier,
    DCLMTrainConfig,
    EduRegressor,
    EnsembleConfig,
    KenLMScorer,
    LanguageId,
    ensemble_buckets,
    percentile_edges,
    quality_labels,
    rubric_label,
    to_buckets,
    train_dclm_fasttext,
    train_edu_regressor,
    train_kenlm,
)
from curation.scoring.ensemble import loss_buckets, tercile_edges
from curation.scoring.langid import is_mismatch
from tests.curation.scoring.texts import EN_CLEAN, EN_REFERENCE, ZH_NEWS, stdlib_sources

GIBBERISH = "zqx vlorp fnargle wibbet quuxo plughz xyzzy brrtk snorf glimb twerp on frobnicate the"


def hashing_embedder(texts: list[str]) -> np.ndarray:
    """A real, fast, deterministic embedder for tests (the production one is MiniLM)."""
    return HashingVectorizer(n_features=256, alternate_sign=False, norm="l2").transform(texts).toarray()


def test_langid_labels_and_flags_mismatch():
    lid = LanguageId()
    lang, score = lid.classify(ZH_NEWS)
    assert lang == "zh" and 0.5 < score <= 1.0
    assert lid.classify(EN_CLEAN)[0] == "en"
    assert lid.classify("   ") == ("und", 0.0)
    assert is_mismatch("zh", ("en",)) and not is_mismatch("en", ("en",))
    assert not is_mismatch("und", ("en",)) and not is_mismatch("zh", ())


@pytest.fixture(scope="module")
def kenlm_model(tmp_path_factory):
    return train_kenlm(EN_REFERENCE, order=3, out_dir=tmp_path_factory.mktemp("kenlm"))


def test_kenlm_ranks_reference_text_below_gibberish(kenlm_model):
    path, metrics = kenlm_model
    scorer = KenLMScorer(path)
    assert metrics["train_tokens"] > 1000 and metrics["held_out_ppl"] > 1
    ref = scorer.perplexity(EN_REFERENCE[0])
    held_out = scorer.perplexity(EN_REFERENCE[9])  # every 10th reference text is held out
    assert ref < held_out < scorer.perplexity(GIBBERISH)
    assert math.isnan(scorer.perplexity("  \n "))


def test_kenlm_handles_oov_with_an_unk_entry(kenlm_model):
    path, metrics = kenlm_model
    assert "\t<unk>" in path.read_text()
    assert -10 < metrics["unk_log10_prob"] < 0  # not KenLM's -100 default
    scorer = KenLMScorer(path)
    sentence = "the statement returns the value of the expression"
    with_oov = "the statement returns the zorblaxification of the expression"
    # one unseen word moves perplexity by a bounded factor, not by 10**(100/n)
    assert scorer.perplexity(with_oov) < 50 * scorer.perplexity(sentence)


def test_kenlm_missing_model_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="train_kenlm"):
        KenLMScorer(tmp_path / "none.arpa")


def test_dclm_fasttext_trains_and_separates(tmp_path):
    code = stdlib_sources(120)
    path, metrics = train_dclm_fasttext(EN_REFERENCE, code, tmp_path, DCLMTrainConfig(dim=32))
    assert metrics["accuracy"] >= 0.8 and metrics["f1"] >= 0.7
    clf = DCLMClassifier(path)
    p = clf.scores([EN_CLEAN, code[0], ""])
    assert p[0] > 0.5 > p[1] and math.isnan(p[2])
    assert len(clf.bucket_edges) == 19


def test_edu_regressor_trains_with_a_labeler_and_scores_in_range(tmp_path):
    texts = EN_REFERENCE + stdlib_sources(40)
    labels = [rubric_label(t) for t in texts]  # from the text alone: where it came from earns nothing
    path, metrics = train_edu_regressor(texts, labels, hashing_embedder, tmp_path)
    assert metrics["held_out_mse"] < 2.0 and sum(metrics["label_histogram"]) == len(texts)
    scores = EduRegressor(path, hashing_embedder).scores([EN_CLEAN, GIBBERISH])
    assert np.all((scores >= 0) & (scores <= 5)) and scores[0] > scores[1]
    # a callable labeler works too
    _, metrics2 = train_edu_regressor(texts, rubric_label, hashing_embedder, tmp_path / "b")
    assert metrics2["train_docs"] + metrics2["held_out_docs"] == len(texts)


def test_edu_bucket_edges_are_percentiles_of_the_pool_not_of_the_reference(tmp_path):
    reference, pool = EN_REFERENCE, stdlib_sources(30) + EN_REFERENCE[:10]  # a pool: mostly code, some prose
    texts = reference + stdlib_sources(30)
    path, metrics = train_edu_regressor(texts, rubric_label, hashing_embedder, tmp_path / "pool", pool=pool)
    model = EduRegressor(path, hashing_embedder)
    assert metrics["edge_docs"] == len(pool)
    assert np.allclose(model.bucket_edges, percentile_edges(model.scores(pool)), atol=1e-4)
    # edges over the training texts (the reference is the larger side) rank the pool against good text: the
    # pool's own prose documents fall into lower buckets than against the pool they are scored in
    path_all, metrics_all = train_edu_regressor(texts, rubric_label, hashing_embedder, tmp_path / "all")
    against_all = to_buckets(model.scores(pool[-10:]), EduRegressor(path_all, hashing_embedder).bucket_edges)
    against_pool = to_buckets(model.scores(pool[-10:]), model.bucket_edges)
    assert metrics_all["edge_docs"] == len(texts) and against_pool.mean() > against_all.mean()
    with pytest.raises(ValueError, match="pool document"):
        train_edu_regressor(texts, rubric_label, hashing_embedder, tmp_path / "none", pool=["  "])


def test_rubric_label_rewards_explanatory_prose_over_code_and_junk():
    assert rubric_label(EN_CLEAN) >= 4
    assert rubric_label(stdlib_sources(1)[0]) <= 3
    mojibake = ZH_NEWS.encode("utf-8").decode("latin-1")  # UTF-8 read as Latin-1
    assert rubric_label(mojibake) < rubric_label(ZH_NEWS)


def test_ensemble_buckets_take_the_max_and_map_to_levels():
    edges = percentile_edges(np.arange(100))
    assert to_buckets(np.array([-1, 0, 50, 99, 1000]), edges).tolist() == [0, 0, 10, 19, 19]
    both = ensemble_buckets([np.array([3, 19, 8]), np.array([12, 2, 6])])
    assert both.tolist() == [12, 19, 8]
    labels = quality_labels(np.array([0, 6, 7, 17, 18, 19]), EnsembleConfig(high_min_bucket=18, mid_min_bucket=7))
    assert labels.tolist() == ["low", "low", "mid", "mid", "high", "high"]


def test_loss_buckets_are_terciles_and_skip_missing_perplexity():
    ppl = np.array([10.0, 20, 30, 40, 50, 60, np.nan])
    labels = loss_buckets(ppl, tercile_edges(ppl))
    assert labels.tolist() == ["loss0", "loss0", "loss1", "loss1", "loss2", "loss2", None]


@pytest.mark.slow
def test_edu_regressor_with_packaged_minilm(tmp_path):
    from curation.embeddings import load_embedder

    embed = load_embedder()
    texts = EN_REFERENCE[:30] + stdlib_sources(30)
    path, metrics = train_edu_regressor(texts, rubric_label, embed, tmp_path)
    assert metrics["embedding_dim"] == 384
    scores = EduRegressor(path, embed).scores([EN_CLEAN, GIBBERISH])
    assert np.all((scores >= 0) & (scores <= 5))


def test_dclm_scores_a_pool_document_with_the_fold_model_that_never_saw_it(tmp_path):
    from curation.scoring.fasttext_dclm import fasttext_line, fold_of

    code = stdlib_sources(40)
    path, metrics = train_dclm_fasttext(EN_REFERENCE, code, tmp_path, DCLMTrainConfig(dim=32, folds=2))
    assert metrics["folds"] == 2 and len(list(tmp_path.glob("dclm_fasttext*"))) == 3  # two models + meta
    clf = DCLMClassifier(path)
    folds = [fold_of(fasttext_line(t, 10_000), 2) for t in code]
    assert 0 < sum(folds) < len(folds)  # both folds hold negatives
    one = DCLMClassifier(train_dclm_fasttext(EN_REFERENCE, code, tmp_path / "one", DCLMTrainConfig(dim=32, folds=1))[0])
    # out-of-fold scores of training negatives sit nearer the prior than one model's memorised ones
    assert clf.scores(code).mean() >= one.scores(code).mean()
