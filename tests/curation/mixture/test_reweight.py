import pytest

from curation.mixture.curriculum import CurriculumError, Reweight, StageSpec, load_curriculum
from curation.mixture.loop import MissingEvalError, stage_weights
from curation.mixture.reweight import reweight
from curation.mixture.spec import MixtureSpec


def test_seed_002_formulas_on_hand_computed_numbers():
    # group g: a, b, c; group h: d alone
    r_prev = {"a": 0.5, "b": 0.3, "c": 0.2, "d": 1.0}
    groups = {"a": "g", "b": "g", "c": "g", "d": "h"}
    before = {"a": 10.0, "b": 20.0, "c": 30.0, "d": 8.0}
    after = {"a": 12.0, "b": 19.0, "c": 30.0, "d": 6.0}
    rows = {r.slice: r for r in reweight(r_prev, groups, before, after, alpha=0.5, w={"b": 0.4})}
    # Δp = 2, -1, 0, -2; max |Δp| = 2 -> δ = 1, -0.5, 0, -1
    assert [rows[s].delta_p for s in "abcd"] == [2.0, -1.0, 0.0, -2.0]
    assert [rows[s].delta_norm for s in "abcd"] == [1.0, -0.5, 0.0, -1.0]
    # f = 1 + 0.5 * δ * w: 1.5, 1 - 0.5 * 0.5 * 0.4 = 0.9, 1, 0.5
    assert [rows[s].f for s in "abcd"] == pytest.approx([1.5, 0.9, 1.0, 0.5])
    # r·f = 0.75, 0.27, 0.2 (sum 1.22) inside g; d is alone in h, its share stays 1
    assert [rows[s].r_new for s in "abc"] == pytest.approx([0.75 / 1.22, 0.27 / 1.22, 0.2 / 1.22])
    assert rows["d"].r_new == pytest.approx(1.0)
    # perplexity rose on a (forgetting): more weight; it fell on b: less
    assert rows["a"].r_new > rows["a"].r_prev and rows["b"].r_new < rows["b"].r_prev


def test_no_change_or_unevaluated_slice_keeps_factor_one():
    rows = reweight({"a": 0.6, "b": 0.4}, {"a": "g", "b": "g"}, {"a": 5.0}, {"a": 5.0}, alpha=0.5)
    assert [r.f for r in rows] == [1.0, 1.0] and [r.r_new for r in rows] == pytest.approx([0.6, 0.4])


def test_alpha_times_w_of_one_is_refused():
    with pytest.raises(ValueError, match="alpha"):
        reweight({"a": 1.0}, {"a": "g"}, {"a": 1.0}, {"a": 2.0}, alpha=0.5, w={"a": 2.0})


def test_stage_weights_read_the_eval_rows_and_name_the_missing_stage():
    stage = StageSpec(name="s2", ratios={"en": 1}, reweight=Reweight("s1", alpha=0.5))
    spec = MixtureSpec(weights={"x": 3.0}, total_tokens=10)
    manifest = {"stats": {"categories": {"x": {"group": "en"}, "y": {"group": "en"}}}}
    rows = [{"model": m, "metric": "perplexity", "category": c, "value": v}
            for m, c, v in [("start", "x", 10.0), ("checkpoint", "x", 11.0), ("start", "y", 10.0),
                            ("checkpoint", "y", 9.0), ("base", "x", 99.0)]]
    out = stage_weights(stage, spec, rows, manifest)
    assert out["before_model"] == "start" and out["factors"] == pytest.approx({"x": 1.5, "y": 0.5})
    by = {r["slice"]: r for r in out["rows"]}
    assert by["x"]["r_prev"] == pytest.approx(0.75)  # weight 3 vs default 1 inside group en
    assert by["x"]["r_new"] == pytest.approx(0.75 * 1.5 / (0.75 * 1.5 + 0.25 * 0.5))
    with pytest.raises(MissingEvalError, match="eval_table\\[s1\\]"):
        stage_weights(stage, spec, [], None)


def test_repo_curriculum_is_seed_002_and_errors_are_clear(tmp_path):
    cur = load_curriculum("configs/curriculum.yaml")
    s1, s2 = cur.stages
    assert s1.ratios == {"zh": 2, "en": 8} and s1.ordering == "ppl_ascending"
    assert s2.ratios == {"zh": 1, "en": 7, "synthetic": 2} and s2.ordering == "random"
    assert s2.reweight.source == s1.name and cur.previous(s2.name) == s1
    bad = tmp_path / "c.yaml"
    bad.write_text("stages:\n  - {name: a, ratios: {en: 1}, weights: {reweight_from: b}}\n")
    with pytest.raises(CurriculumError, match="not an earlier stage"):
        load_curriculum(bad)
    bad.write_text("stages:\n  - {name: a, ratios: {en: 1}, ordering: sorted}\n")
    with pytest.raises(CurriculumError, match="ordering"):
        load_curriculum(bad)
