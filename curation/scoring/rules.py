"""What a heuristic rule set is: a frozen config of paper thresholds + a ``check`` generator.

``check(stats, cfg)`` yields one ``Failure`` per rule the document breaks, in the rule set's
order, lazily: a hard rule set stops at the first failure (the drop reason), a soft one
collects them all as flags. A threshold set to ``None`` disables that rule.
"""

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from curation.scoring.text_stats import TextStats


@dataclass(frozen=True)
class Failure:
    rule: str  # "<rule_set>:<rule>", e.g. "gopher_quality:mean_word_length" — the drop reason
    value: float  # the measured figure that broke the threshold
    threshold: float

    def detail(self) -> str:
        return f"{self.value:.4g} vs {self.threshold:.4g}"


def below(rule: str, value: float, minimum: float | None) -> Failure | None:
    return Failure(rule, value, minimum) if minimum is not None and value < minimum else None


def above(rule: str, value: float, maximum: float | None) -> Failure | None:
    return Failure(rule, value, maximum) if maximum is not None and value > maximum else None


def failures(*results: Failure | None) -> Iterator[Failure]:
    """The rules that failed, in order, from ``below``/``above`` results."""
    return (r for r in results if r is not None)


CheckFn = Callable[[TextStats, Any], Iterator[Failure]]


@dataclass(frozen=True)
class RuleSet:
    name: str
    config_cls: type
    check: CheckFn
