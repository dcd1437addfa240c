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

Mode = Literal["hard", "soft"]


@dataclass(frozen=True)
class RuleSelection:
    """One rule set enabled for a category: hard failures drop, soft failures only flag."""

    rule_set: str
    mode: Mode
    config: Any  # the rule set's frozen config dataclass

    def check(self, stats: TextStats):
        return RULE_SETS[self.rule_set].check(stats, self.config)


def apply_rules(stats: TextStats, selections: tuple[RuleSelection, ...]) -> tuple[Failure | None, list[Failure]]:
    """(first hard failure or None, all soft failures). Hard rule sets run first so a document
    that will be dropped costs no soft-rule work."""
    for sel in selections:
        if sel.mode == "hard":
            failure = next(sel.check(stats), None)
            if failure is not None:
                return failure, []
    flags: list[Failure] = []
    for sel in selections:
        if sel.mode == "soft":
            flags.extend(sel.check(stats))
    return None, flags
