"""The curriculum: training stages, each with its own group ratios, budget, ordering and LR segment.

Default (configs/curriculum.yaml) is seed 002's Llama-3-SynE recipe at demo scale: stage 1
"bilingual adaptation", Chinese : English 2:8 ordered by perplexity from low to high; stage 2
"synthetic enhancement", Chinese : English : synthetic 1:7:2 sampled at random, its slice weights
re-weighted from stage 1's per-slice perplexity change (``curation/mixture/reweight.py``).
Stage t trains from stage t-1's checkpoint.
"""

import math
from dataclasses import dataclass, field, fields
from pathlib import Path

import yaml

from curation.config_keys import refuse_unknown_keys
from curation.document import validate_category

ORDERINGS = ("ppl_ascending", "random")
# the keys of TrainingConfig a stage may set for its learning-rate segment
LR_KEYS = ("max_lr", "min_lr", "warmup_steps", "max_steps", "lr_decay_steps")


class CurriculumError(ValueError):
    """A curriculum that cannot run as written."""


@dataclass(frozen=True)
class Reweight:
    """Seed 002's PPL-change reweighting: f_i = 1 + alpha * delta_i * w_i (see reweight.py)."""

    source: str  # the stage whose eval table drives it
    alpha: float = 0.5
    # per-slice w_i; slices not listed get default_w
    w: dict[str, float] = field(default_factory=dict)
    default_w: float = 1.0


@dataclass(frozen=True)
class StageSpec:
    name: str
    # group -> ratio (groups: language codes from scoring's ``lang``, and ``synthetic``)
    ratios: dict[str, float]
    # a group the stage does not list (a user's third language); 0 = not trained in this stage
    default_ratio: float = 0.0
    token_budget: int | None = None  # None: the mixture spec's total_tokens
    ordering: str = "random"
    lr: dict[str, float] = field(default_factory=dict)
    reweight: Reweight | None = None

    def __post_init__(self) -> None:
        validate_category(self.name)
        if self.ordering not in ORDERINGS:
            raise CurriculumError(f"stage {self.name}: ordering must be one of {ORDERINGS}, got {self.ordering!r}")
        for group, ratio in {**self.ratios, "default_ratio": self.default_ratio}.items():
            if not isinstance(ratio, int | float) or not math.isfinite(ratio) or ratio < 0:
                raise CurriculumError(f"stage {self.name}: ratio of {group!r} must be >= 0, got {ratio!r}")
        if self.ratios and sum(self.ratios.values()) <= 0:
            raise CurriculumError(f"stage {self.name}: ratios sum to 0")
        if self.token_budget is not None and (not isinstance(self.token_budget, int) or self.token_budget <= 0):
            raise CurriculumError(f"stage {self.name}: token_budget must be a positive integer")
        refuse_unknown_keys(self.lr, LR_KEYS, f"stage {self.name}", "lr keys", CurriculumError)

    def to_dict(self) -> dict:
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        out["reweight"] = None if self.reweight is None else {f.name: getattr(self.reweight, f.name)
                                                              for f in fields(self.reweight)}
        return out


@dataclass(frozen=True)
class Curriculum:
    stages: tuple[StageSpec, ...]
    source: str | None = None

    def __post_init__(self) -> None:
        if not self.stages:
            raise CurriculumError("curriculum has no stages")
        names = [s.name for s in self.stages]
        if len(set(names)) != len(names):
            raise CurriculumError(f"stage names repeat: {names}")
        for i, stage in enumerate(self.stages):
            if stage.reweight and stage.reweight.source not in names[:i]:
                raise CurriculumError(
                    f"stage {stage.name}: reweight_from {stage.reweight.source!r} is not an earlier stage ({names[:i]})"
                )

    @property
    def names(self) -> list[str]:
        return [s.name for s in self.stages]

    def stage(self, name: str) -> StageSpec:
        for s in self.stages:
            if s.name == name:
                return s
        raise CurriculumError(f"no stage {name!r} in the curriculum; stages: {self.names}")

    def previous(self, name: str) -> StageSpec | None:
        i = self.names.index(self.stage(name).name)
        return self.stages[i - 1] if i else None


_STAGE_KEYS = {"name", "ratios", "default_ratio", "token_budget", "ordering", "lr", "weights"}


def _stage(raw: dict, where: str) -> StageSpec:
    refuse_unknown_keys(raw, _STAGE_KEYS, where, "stage keys", CurriculumError)
    weights = raw.get("weights", "fixed")
    reweight = None
    if isinstance(weights, dict):
        if set(weights) - {"reweight_from", "alpha", "w", "default_w"} or "reweight_from" not in weights:
            raise CurriculumError(f"{where}: weights must be 'fixed' or {{reweight_from, alpha, w, default_w}}")
        reweight = Reweight(str(weights["reweight_from"]), float(weights.get("alpha", 0.5)),
                            {str(k): float(v) for k, v in (weights.get("w") or {}).items()},
                            float(weights.get("default_w", 1.0)))
    elif weights != "fixed":
        raise CurriculumError(f"{where}: weights must be 'fixed' or a reweight_from mapping, got {weights!r}")
    return StageSpec(
        name=str(raw.get("name", "")),
        ratios={str(k): float(v) for k, v in (raw.get("ratios") or {}).items()},
        default_ratio=float(raw.get("default_ratio", 0.0)),
        token_budget=raw.get("token_budget"),
        ordering=str(raw.get("ordering", "random")),
        lr=dict(raw.get("lr") or {}),
        reweight=reweight,
    )


def load_curriculum(path: str | Path) -> Curriculum:
    path = Path(path)
    raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    if set(raw) - {"stages"}:
        raise CurriculumError(f"{path}: unknown keys {sorted(set(raw) - {'stages'})}; known: ['stages']")
    stages = tuple(_stage(s, f"{path} stage {i + 1}") for i, s in enumerate(raw.get("stages") or []))
    return Curriculum(stages, source=str(path))


def single_stage(name: str = "all") -> StageSpec:
    """A stage without group ratios: slice weights alone decide (what build_mixture does by default)."""
    return StageSpec(name=name, ratios={})
