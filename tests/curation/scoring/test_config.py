from pathlib import Path

import pytest
import yaml

from curation.scoring import load_scoring_config, scoring_config_from_dict
from curation.scoring.config import PROFILE_KEYS
from curation.scoring.profiles import Profile

CONFIG = Path(__file__).resolve().parents[3] / "configs" / "scoring.yaml"


def raw_config() -> dict:
    return yaml.safe_load(CONFIG.read_text())


def profile(kind: str, length: str, language: str = "en") -> Profile:
    return Profile(language, kind, length, 200, (language,), 300.0, 0.0, 0.0)


def test_shipped_config_selects_rule_sets_by_detected_profile_not_name():
    cfg = load_scoring_config(CONFIG)
    code = cfg.for_category("anything", profile("code", "long"))
    assert {s.rule_set: s.mode for s in code.rule_sets} == {"integrity": "hard", "code": "hard",
                                                            "gopher_repetition": "soft"}
    short = cfg.for_category("my_forum", profile("prose", "short", "zh"))
    gq = next(s.config for s in short.rule_sets if s.rule_set == "gopher_quality")
    assert gq.min_doc_words == 3 and gq.max_mean_word_length == 10  # override + paper default
    assert {s.rule_set: s.mode for s in short.rule_sets}["c4"] == "soft"  # no 5-sentence drop for a paragraph
    # no category name of the sample corpus appears in the shipped config
    assert not cfg.categories
    assert cfg.for_category("en_docs", profile("prose", "long")) is cfg.profiles["prose-long"]


def test_a_named_category_override_wins_over_the_profile():
    raw = raw_config()
    raw["categories"] = {"mine": {"languages": ["fr"], "rule_sets": {"integrity": "hard"}}}
    cfg = scoring_config_from_dict(raw)
    assert cfg.for_category("mine", profile("prose", "long")).languages == ("fr",)
    assert cfg.for_category("other", profile("prose", "long")) is cfg.profiles["prose-long"]


def test_version_is_stable_and_changes_with_any_threshold():
    assert load_scoring_config(CONFIG).version == load_scoring_config(CONFIG).version
    base = scoring_config_from_dict(raw_config())
    changed = raw_config()
    changed["profiles"]["prose-long"]["rule_sets"]["fineweb"] = {"mode": "hard", "max_short_line_ratio": 0.5}
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
        cfg.profiles["x"] = cfg.profiles["prose-long"]  # type: ignore[index]


@pytest.mark.parametrize(
    ("patch", "message"),
    [
        ({"categories": {"x": {"rule_sets": {"gopher": "hard"}}}}, "unknown rule set 'gopher'"),
        ({"categories": {"x": {"rule_sets": {"c4": {"min_words": 3}}}}}, "unknown key(s) ['min_words']"),
        ({"categories": {"x": {"rule_sets": {"c4": "strict"}}}}, "mode must be one of"),
        ({"profiles": {"prose-long": {}}}, "must define every <kind>-<length> entry"),
        ({"profiles": {"web-long": {}}}, "unknown key(s) ['web-long']"),
        ({"categories": {"bad/name": {}}}, "invalid category name"),
        ({"ensemble": {"high_min_bucket": 5, "mid_min_bucket": 9}}, "mid_min_bucket <= high_min_bucket"),
    ],
)
def test_bad_config_is_refused_with_a_clear_message(patch, message):
    raw = {"profiles": {key: {} for key in PROFILE_KEYS}, **patch}
    with pytest.raises(ValueError) as err:
        scoring_config_from_dict(raw)
    assert message in str(err.value)
