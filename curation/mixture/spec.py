"""The mixture spec: where documents come from, relative slice weights, a token budget, how to hold
data out, the document separator, and decontamination.

Shaped after seed 000's table (relative weights, normalised, applied to a fixed token budget:
30B tokens out of a 100B pool) and its synthetic naming ``<source>-synthetic-<style>``. A slice
the spec does not list gets ``default_weight``, so a user's own categories need no entry; the
curriculum (``curation/mixture/curriculum.py``) sets the ratios between groups of slices.
"""

import math
from dataclasses import dataclass, field, fields
from pathlib import Path

import yaml

from curation.config_keys import refuse_unknown_keys
from curation.decontam.config import DecontamConfig
from curation.document import validate_category
from curation.mixture.groups import synthetic_category  # noqa: F401 - re-exported for callers


class MixtureSpecError(ValueError):
    """A mixture spec that cannot be used as written."""


@dataclass(frozen=True)
class MixtureSpec:
    # slice -> relative weight inside its group (seed 000, table 1); unlisted slices: default_weight
    weights: dict[str, float]
    # training tokens in the whole mixture (seed 000: 30B of a 100B pool; small for the CPU demo);
    # a curriculum stage's token_budget overrides it
    total_tokens: int
    # weight of a slice not listed in ``weights`` (a user's own categories)
    default_weight: float = 1.0
    # lake stages the mixture reads, every category of each (HELPERS contract: rewritten, selected, ...)
    sources: tuple[str, ...] = ("rewritten",)
    # end-of-document token appended to every document in the Megatron files and used by the
    # held-out eval; None = the tokenizer's eos_token. For continued pretraining of a base model
    # name the base model's own end-of-text token (SmolLM2: "<|endoftext|>"), not an instruct
    # model's end-of-turn token ("<|im_end|>")
    eod_token: str | None = None
    # scoring-stage column that orders a ``ppl_ascending`` stage (documents without it go last)
    ppl_column: str = "ppl"
    # optional per-document sampling weight column (the selection stage's ``sample_weight``)
    weight_column: str | None = "sample_weight"
    # a column whose value subdivides every slice: ``<slice>.<value>`` (e.g. ``topic``, the selection stage's)
    slice_by: str | None = None
    decontamination: DecontamConfig = field(default_factory=DecontamConfig)
    # held out per category before sampling, never trained on: fraction, then clamped to [min, max] docs
    heldout_fraction: float = 0.05
    heldout_min_docs: int = 1
    heldout_max_docs: int = 64
    # allowed |actual share - target share| (absolute), checked after sampling
    tolerance: float = 0.01
    # more than ~4 epochs of repeated data stops paying off (Muennighoff et al. 2023,
    # "Scaling Data-Constrained Language Models"); we upsample past it but flag it
    max_repeat: float = 4.0
    seed: int = 1234
    # block length the trainer packs tokens into; recorded with the mixture
    seq_len: int = 128
    # documents longer than this are refused (counted drop) instead of tokenized in one piece
    max_doc_chars: int = 2_000_000
    # a category in the spec with no data: "renormalise" over the rest (reported) or "error"
    on_missing: str = "renormalise"
    source: str | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        for name, weight in {**self.weights, "default_weight": self.default_weight}.items():
            if name != "default_weight":
                validate_category(name)
            if not isinstance(weight, int | float) or not math.isfinite(weight) or weight < 0:
                raise MixtureSpecError(f"weight of {name!r} must be a finite number >= 0, got {weight!r}")
        if not self.sources:
            raise MixtureSpecError("mixture spec needs at least one source stage under 'sources'")
        if not isinstance(self.total_tokens, int) or self.total_tokens <= 0:
            raise MixtureSpecError(f"total_tokens must be a positive integer, got {self.total_tokens!r}")
        if not 0 <= self.heldout_fraction < 1:
            raise MixtureSpecError(f"heldout_fraction must be in [0, 1), got {self.heldout_fraction}")
        if not 0 <= self.heldout_min_docs <= self.heldout_max_docs:
            raise MixtureSpecError("need 0 <= heldout_min_docs <= heldout_max_docs")
        if self.on_missing not in {"renormalise", "error"}:
            raise MixtureSpecError(f"on_missing must be 'renormalise' or 'error', got {self.on_missing!r}")
        if self.seq_len < 2:
            raise MixtureSpecError("seq_len must be >= 2")

    def weight(self, slice_name: str) -> float:
        return self.weights.get(slice_name, self.default_weight)

    def to_dict(self) -> dict:
        out = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "source"}
        out["decontamination"] = {f.name: getattr(self.decontamination, f.name)
                                  for f in fields(self.decontamination)}
        out["sources"] = list(self.sources)
        return out


def load_mixture_spec(path: str | Path) -> MixtureSpec:
    """Read a mixture spec from YAML; unknown keys are refused so a typo cannot be ignored."""
    path = Path(path)
    raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    known = {f.name for f in fields(MixtureSpec)} - {"source"}
    refuse_unknown_keys(raw, known, str(path), "mixture keys", MixtureSpecError)
    weights = {str(k): float(v) for k, v in (raw.pop("weights", None) or {}).items()}
    try:
        decontam = DecontamConfig.from_dict(raw.pop("decontamination", None))
    except ValueError as exc:
        raise MixtureSpecError(f"{path}: {exc}") from exc
    if "sources" in raw:
        raw["sources"] = tuple(str(x) for x in raw["sources"] or ())
    return MixtureSpec(weights=weights, decontamination=decontam, source=str(path), **raw)
