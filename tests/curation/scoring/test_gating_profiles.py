"""Profile detection that junk cannot steer, and gated paper rules (Nemotron-CC: heuristics skip the high
buckets, except far past their threshold)."""

import sys
from pathlib import Path

import numpy as np

from curation.scoring import gopher_repetition, integrity, load_scoring_config
from curation.scoring.ensemble import EnsembleConfig
from curation.scoring.gating import EXEMPT_SUFFIX, excess, gate
from curation.scoring.heuristics import RuleSelection, apply_rules, apply_rules_gated
from curation.scoring.langid import LanguageId
from curation.scoring.profiles import ProfileConfig, detect_profile, is_code
from curation.scoring.rules import Failure
from curation.scoring.text_stats import TextStats
from tests.curation.scoring.test_config import CONFIG
from tests.curation.scoring.test_integrity import DPKG_LOG
from tests.curation.scoring.texts import EN_REFERENCE

LANGID = LanguageId(load_scoring_config(CONFIG).langid)


def site_package_files(n: int) -> list[str]:
    """Third-party code: the first files of installed packages (never written here)."""
    site = Path(next(p for p in sys.path if p.endswith("site-packages")))
    files = sorted(p for pkg in ("yaml", "idna", "packaging", "click") for p in (site / pkg).glob("*.py")
                   if p.stat().st_size > 2000)
    return [p.read_text(encoding="utf-8") for p in files[:n]]


def test_junk_in_a_category_does_not_steer_its_profile():
    docs = EN_REFERENCE[:20] + [DPKG_LOG] * 15  # dates and versions are not math
    profile = detect_profile(docs, LANGID)
    assert (profile.language, profile.kind, profile.length) == ("en", "prose", "long")
    assert profile.sample_docs == 20  # the log lines did not vote


def test_third_party_code_is_code_even_with_long_docstrings():
    files = site_package_files(8)
    assert len(files) >= 4
    assert sum(is_code(TextStats(t), ProfileConfig()) for t in files) >= 0.75 * len(files)
    assert detect_profile(files, LANGID).kind == "code"
    assert detect_profile(EN_REFERENCE[:20], LANGID).kind == "prose"  # the reference manual, code examples and all


def test_a_gated_failure_counts_as_hard_without_classifiers():
    spam = "\n".join(["Buy cheap watches online today, best prices guaranteed!"] * 30)
    sel = (RuleSelection("integrity", "hard", integrity.IntegrityConfig()),
           RuleSelection("gopher_repetition", "gated", gopher_repetition.GopherRepetitionConfig()))
    hard, gated, soft = apply_rules_gated(TextStats(spam), sel)
    assert hard is None and gated.rule == "gopher_repetition:dup_line_frac" and soft == []
    assert apply_rules(TextStats(spam), sel)[0] == gated


def test_gate_exempts_high_documents_near_the_threshold_only():
    near = Failure("gopher_repetition:dup_line_frac", 0.31, 0.3)
    far = Failure("gopher_repetition:dup_line_frac", 0.97, 0.3)
    below = Failure("gopher_quality:alpha_words_ratio", 0.7, 0.8)
    assert excess(near) < 1.1 and excess(far) > 3 and 1 < excess(below) < 1.2
    ids = ["a", "b", "c", "d", "e"]
    keep, drops, flags = gate(ids, [near, far, below, None, near], np.array([19, 19, 18, 2, 6]), EnsembleConfig(),
                              "cat", "scored", "v1")
    assert keep.tolist() == [True, False, True, True, False]
    assert flags[0] == "gopher_repetition:dup_line_frac" + EXEMPT_SUFFIX and flags[3] is None
    reasons = {d.doc_id: (d.reason, d.detail) for d in drops}
    assert "past the threshold" in reasons["b"][1] and "bucket 6 < high 18" in reasons["e"][1]
    keep, drops, _ = gate(ids[:1], [near], None, EnsembleConfig(), "cat", "scored", "v1")
    assert not keep[0] and "no classifier" in drops[0].detail
