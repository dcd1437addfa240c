"""Decontamination settings (``decontamination:`` in configs/mixture.yaml)."""

from dataclasses import dataclass, fields

from curation.config_keys import refuse_unknown_keys


@dataclass(frozen=True)
class DecontamConfig:
    # remove contaminated documents before training; off, the blocking check still judges the output
    enabled: bool = True
    # 13-grams, as GPT-3 (Brown et al. 2020, appendix C) and Dolma's decontamination; CJK by characters
    n: int = 13
    # contaminated when shared n-grams / min(item n-grams, doc n-grams) >= this. 0.1 keeps one shared
    # boilerplate line of a long file from counting while an item pasted with a few edited words
    # still counts (bench/decontam: recall and false positives at this bound)
    overlap_bound: float = 0.1
    # benchmarks shipped inside installed packages (curation/decontam/sources.py PACKAGED)
    packaged: tuple[str, ...] = ("humaneval",)
    # $CORPUSFORGE_HOME/evalsets/*.jsonl
    evalsets: bool = True
    # the mixture's own held-out documents are eval texts too (a near copy in training leaks them)
    include_heldout: bool = True

    def __post_init__(self) -> None:
        if self.n < 3:
            raise ValueError(f"decontamination.n must be >= 3, got {self.n}")
        if not 0 < self.overlap_bound <= 1:
            raise ValueError(f"decontamination.overlap_bound must be in (0, 1], got {self.overlap_bound}")

    @classmethod
    def from_dict(cls, raw: dict | None) -> "DecontamConfig":
        raw = dict(raw or {})
        refuse_unknown_keys(raw, {f.name for f in fields(cls)}, "", "decontamination keys")
        if "packaged" in raw:
            raw["packaged"] = tuple(raw["packaged"] or ())
        return cls(**raw)
