"""The registry of heuristic rule sets and how a category's selection is applied to a document."""

from dataclasses import dataclass
from typing import Any, Literal

from curation.scoring import c4, code_rules, fineweb, gopher_quality, gopher_repetition, integrity
from curation.scoring.rules import Failure, RuleSet
from curation.scoring.text_stats import TextStats

RULE_SETS: dict[str, RuleSet] = {
    rs.name: rs
    for rs in (
        gopher_quality.RULE_SET,
        gopher_repetition.RULE_SET,
        c4.RULE_SET,
        fineweb.RULE_SET,
        code_rules.RULE_SET,
        integrity.RULE_SET,
    )
}

# hard: a failure drops the document. soft: a failure is only flagged (rule_flags). gated: a failure drops
# the document unless the classifier ensemble rates it high (curation/scoring/gating.py; Nemotron-CC,
# seed 003: heuristic filters removed high-quality data, so they are not applied to the high buckets).
Mode = Literal["hard", "soft", "gated"]
MODES = ("hard", "soft", "gated")


@dataclass(frozen=True)
class RuleSelection:
    """One rule set enabled for a category: hard failures drop, soft failures only flag, gated failures
    drop unless the document scores high."""

    rule_set: str
    mode: Mode
    config: Any  # the rule set's frozen config dataclass

    def check(self, stats: TextStats):
        return RULE_SETS[self.rule_set].check(stats, self.config)


def apply_rules(stats: TextStats, selections: tuple[RuleSelection, ...]) -> tuple[Failure | None, list[Failure]]:
    """(first hard or gated failure or None, all soft failures): a gated rule set counts as hard where no
    classifier can exempt a document (rules alone)."""
    hard, gated, flags = apply_rules_gated(stats, selections)
    failure = hard or gated
    return failure, [] if failure is not None else flags


def apply_rules_gated(stats: TextStats, selections: tuple[RuleSelection, ...]
                      ) -> tuple[Failure | None, Failure | None, list[Failure]]:
    """(first hard failure, first gated failure, all soft failures). Hard rule sets run first so a
    document that will be dropped costs no other rule's work; a gated failure stops the gated sets."""
    for sel in selections:
        if sel.mode == "hard":
            failure = next(sel.check(stats), None)
            if failure is not None:
                return failure, None, []
    gated = None
    for sel in selections:
        if sel.mode == "gated":
            gated = next(sel.check(stats), None)
            if gated is not None:
                break
    flags: list[Failure] = []
    for sel in selections:
        if sel.mode == "soft":
            flags.extend(sel.check(stats))
    return None, gated, flags
