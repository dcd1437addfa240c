"""The stage checks fail on the bad data they exist for (a check that cannot fail is a defect)."""

from assets.checks.documents import drop_rate_check
from assets.scored_checks import SCORED_KEY


def test_drop_rate_band_catches_a_silent_mass_removal():
    band = {"min": 0.0, "max": 0.6}
    assert drop_rate_check(SCORED_KEY, {"docs_in": 1000, "docs_out": 20}, band).passed is False
    assert drop_rate_check(SCORED_KEY, {"docs_in": 1000, "docs_out": 900}, band).passed is True


def test_drop_rate_of_a_tiny_sample_is_not_judged_but_a_large_one_is():
    band = {"min": 0.0, "max": 0.5, "min_docs": 20}
    tiny = drop_rate_check(SCORED_KEY, {"docs_in": 4, "docs_out": 1}, band)
    assert tiny.passed is False and tiny.severity.value == "WARN"  # says it cannot judge, never a silent pass
    assert drop_rate_check(SCORED_KEY, {"docs_in": 40, "docs_out": 10}, band).passed is False
