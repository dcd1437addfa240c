from pathlib import Path

import pytest
import yaml

from curation.scoring import load_scoring_config, scoring_config_from_dict

CONFIG = Path(__file__).resolve().parents[3] / "configs" / "scoring.yaml"


def raw_config() -> dict:
    return yaml.safe_load(CONFIG.read_text())


def test_shipped_config_loads_with_per_category_rule_sets():
    cfg = load_scoring_config(CONFIG)
    assert [s.rule_set for s in cfg.for_category("code").rule_sets] == ["code", "gopher_repetition"]
    assert {s.rule_set: s.mode for s in cfg.for_category("code").rule_sets}["gopher_repetition"] == "soft"
    assert cfg.for_category("zh_news").languages == ("zh",)
    reviews_gq = next(s.config for s in cfg.for_category("zh_reviews").rule_sets if s.rule_set == "gopher_quality")
    assert reviews_gq.min_doc_words == 5 and reviews_gq.max_mean_word_length == 10  # override + paper default
    assert cfg.for_category("brand_new_category") is cfg.categories["default"]


def test_version_is_stable_and_changes_with_any_threshold():
    assert load_scoring_config(CONFIG).version == load_scoring_config(CONFIG).version
    base = scoring_config_from_dict(raw_config())
    changed = raw_config()
    changed["categories"]["default"]["rule_sets"]["fineweb"] = {"mode": "hard", "max_short_line_ratio": 0.5}
    assert scoring_config_from_dict(changed).version != base.version
    changed = raw_config()
    changed["rule_sets"] = {"gopher_repetition": {"top_ngram_max_char_frac": [[2, 0.25], [3, 0.18], [4, 0.16]]}}
    assert scoring_config_from_dict(changed).version != base.version
    changed = raw_config()
    changed["ensemble"]["high_min_bucket"] = 17
    assert scoring_config_from_dict(changed).version != base.version


def test_config_is_frozen():
    cfg = load_scoring_config(CONFIG)
    with pytest.raises(AttributeError):
        cfg.cjk_threshold = 0.9  # type: ignore[misc]
    with pytest.raises(TypeError):
        cfg.categories["x"] = cfg.categories["default"]  # type: ignore[index]


@pytest.mark.parametrize(
    ("patch", "message"),
    [
        ({"categories": {"default": {"rule_sets": {"gopher": "hard"}}}}, "unknown rule set 'gopher'"),
        ({"categories": {"default": {"rule_sets": {"c4": {"min_words": 3}}}}}, "unknown key(s) ['min_words']"),
        ({"categories": {"default": {"rule_sets": {"c4": "strict"}}}}, "mode must be 'hard' or 'soft'"),
        ({"categories": {"en_docs": {}}}, "must define 'default'"),
        ({"categories": {"default": {}, "bad/name": {}}}, "invalid category name"),
        ({"ensemble": {"high_min_bucket": 5, "mid_min_bucket": 9}}, "mid_min_bucket <= high_min_bucket"),
    ],
)
def test_bad_config_is_refused_with_a_clear_message(patch, message):
    raw = {"categories": {"default": {}}, **patch}
    with pytest.raises(ValueError) as err:
        scoring_config_from_dict(raw)
    assert message in str(err.value)
