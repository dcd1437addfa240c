"""The mixture spec: relative category weights, a token budget, and how to hold data out.

Shaped after seed 000's table (relative weights, normalised, applied to a fixed token budget:
30B tokens out of a 100B pool) and its synthetic naming ``<source>-synthetic-<style>``.
"""

import math
from dataclasses import dataclass, field, fields
from pathlib import Path

import yaml

from curation.config_keys import refuse_unknown_keys
from curation.document import validate_category


class MixtureSpecError(ValueError):
    """A mixture spec that cannot be used as written."""


def synthetic_category(category: str, style: str) -> str:
    """Name of the synthetic slice of ``category`` rewritten in ``style`` (seed 000:
    ``Nemotron-CC-high-synthetic-wrap_medium-high``)."""
    return validate_category(f"{category}-synthetic-{style}")


@dataclass(frozen=True)
class MixtureSpec:
    # category -> relative weight; normalised over the categories present (seed 000, table 1)
    weights: dict[str, float]
    # training tokens in the whole mixture (seed 000: 30B of a 100B pool; small for the CPU demo)
    total_tokens: int
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
        if not self.weights:
            raise MixtureSpecError("mixture spec has no categories under 'weights'")
        for name, weight in self.weights.items():
            validate_category(name)
            if not isinstance(weight, int | float) or not math.isfinite(weight) or weight < 0:
                raise MixtureSpecError(f"weight of {name!r} must be a finite number >= 0, got {weight!r}")
        if sum(self.weights.values()) <= 0:
            raise MixtureSpecError("mixture weights sum to 0")
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

    def shares(self, present: set[str] | None = None) -> dict[str, float]:
        """Normalised weights over ``present`` categories (all spec categories when None)."""
        names = [c for c in self.weights if present is None or c in present]
        total = sum(self.weights[c] for c in names)
        if total <= 0:
            raise MixtureSpecError(f"no category with a positive weight among {sorted(present or [])}")
        return {c: self.weights[c] / total for c in names}

    def to_dict(self) -> dict:
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name != "source"}


def load_mixture_spec(path: str | Path) -> MixtureSpec:
    """Read a mixture spec from YAML; unknown keys are refused so a typo cannot be ignored."""
    path = Path(path)
    raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    known = {f.name for f in fields(MixtureSpec)} - {"source"}
    refuse_unknown_keys(raw, known, str(path), "mixture keys", MixtureSpecError)
    weights = {str(k): float(v) for k, v in (raw.pop("weights", None) or {}).items()}
    return MixtureSpec(weights=weights, source=str(path), **raw)
