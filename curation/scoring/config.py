"""``configs/scoring.yaml`` → a frozen ``ScoringConfig`` with a stable ``version`` hash.

Every threshold has its paper default in the rule set's dataclass; the YAML only overrides.
Layering: rule-set dataclass defaults < top-level ``rule_sets:`` overrides < a profile's or a
category's own. A category's rule sets come from the profile detected from its documents
(``profiles.<kind>-<length>``, curation/scoring/profiles.py); an entry under ``categories:`` is an
optional user override by name, never needed. Unknown rule sets, thresholds or modes are refused
with the valid names spelled out. ``version`` hashes the fully resolved config plus
``SCORING_LOGIC_VERSION`` (bump it when a rule's code changes), so changing any threshold
changes it and Dagster marks the scored assets stale.
"""

import dataclasses
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from types import MappingProxyType
from typing import Any

import yaml

from curation.cjk import CJK_SHARE
from curation.config_keys import refuse_unknown_keys
from curation.document import validate_category
from curation.scoring.ensemble import EnsembleConfig
from curation.scoring.heuristics import MODES, RULE_SETS, RuleSelection
from curation.scoring.kenlm_ppl import KenLMConfig
from curation.scoring.langid import LangIdConfig
from curation.scoring.profiles import KINDS, LENGTHS, Profile, ProfileConfig

SCORING_LOGIC_VERSION = "4"
PROFILE_KEYS = tuple(f"{kind}-{length}" for kind in KINDS for length in LENGTHS)


@dataclass(frozen=True)
class CategoryConfig:
    rule_sets: tuple[RuleSelection, ...]
    languages: tuple[str, ...] = ()  # expected ISO 639-1 codes; empty: the detected profile's languages
    drop_lang_mismatch: bool = False  # False: flag in ``lang_mismatch``; True: drop "langid:mismatch"


@dataclass(frozen=True)
class ScoringConfig:
    profiles: Mapping[str, CategoryConfig]
    categories: Mapping[str, CategoryConfig] = field(default_factory=dict)
    profile: ProfileConfig = field(default_factory=ProfileConfig)
    langid: LangIdConfig = field(default_factory=LangIdConfig)
    kenlm: KenLMConfig = field(default_factory=KenLMConfig)
    ensemble: EnsembleConfig = field(default_factory=EnsembleConfig)
    cjk_threshold: float = CJK_SHARE  # curation/cjk.py: ≥ 30 % CJK characters switches to the Chinese variants
    version: str = field(default="", compare=False)

    def for_category(self, category: str, profile: Profile) -> CategoryConfig:
        """A user's explicit entry for ``category`` if any, else the detected profile's rule sets."""
        validate_category(category)
        return self.categories.get(category) or self.profiles[profile.rules_key]


def load_scoring_config(path: Path | str) -> ScoringConfig:
    path = Path(path)
    raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    return scoring_config_from_dict(raw, source=str(path))


def scoring_config_from_dict(raw: Mapping[str, Any], source: str = "<dict>") -> ScoringConfig:
    _only_keys(raw, {"cjk_threshold", "langid", "kenlm", "ensemble", "rule_sets", "profile", "profiles",
                     "categories"}, source)
    global_overrides = raw.get("rule_sets") or {}
    _only_keys(global_overrides, set(RULE_SETS), f"{source}: rule_sets")
    profiles_raw = raw.get("profiles") or {}
    _only_keys(profiles_raw, set(PROFILE_KEYS), f"{source}: profiles")
    if missing := [k for k in PROFILE_KEYS if k not in profiles_raw]:
        raise ValueError(f"{source}: profiles must define every <kind>-<length> entry; missing {missing}")
    profiles = {key: _category(f"profiles.{key}", spec or {}, global_overrides, source)
                for key, spec in profiles_raw.items()}
    categories = {
        validate_category(name): _category(f"categories.{name}", spec or {}, global_overrides, source)
        for name, spec in (raw.get("categories") or {}).items()
    }
    cfg = ScoringConfig(
        profiles=MappingProxyType(profiles),
        categories=MappingProxyType(categories),
        profile=_build(ProfileConfig, raw.get("profile"), f"{source}: profile"),
        langid=_build(LangIdConfig, raw.get("langid"), f"{source}: langid"),
        kenlm=_build(KenLMConfig, raw.get("kenlm"), f"{source}: kenlm"),
        ensemble=_build(EnsembleConfig, raw.get("ensemble"), f"{source}: ensemble"),
        cjk_threshold=float(raw.get("cjk_threshold", CJK_SHARE)),
    )
    return dataclasses.replace(cfg, version=config_version(cfg))


def config_version(cfg: ScoringConfig) -> str:
    """12 hex chars of sha256 over the resolved config: equal configs, equal versions."""
    payload = json.dumps(
        {"logic": SCORING_LOGIC_VERSION, "config": _jsonable(dataclasses.replace(cfg, version=""))},
        sort_keys=True,
    )
    return hashlib.sha256(payload.encode()).hexdigest()[:12]


def _category(name: str, spec: Mapping[str, Any], global_overrides: Mapping, source: str) -> CategoryConfig:
    where = f"{source}: {name}"
    _only_keys(spec, {"languages", "drop_lang_mismatch", "rule_sets"}, where)
    selections = []
    for rs_name, entry in (spec.get("rule_sets") or {}).items():
        if rs_name not in RULE_SETS:
            raise ValueError(f"{where}: unknown rule set {rs_name!r}; known: {sorted(RULE_SETS)}")
        entry = {"mode": entry} if isinstance(entry, str) else dict(entry or {})
        mode = entry.pop("mode", "hard")
        if mode not in MODES:
            raise ValueError(f"{where}.{rs_name}: mode must be one of {list(MODES)}, got {mode!r}")
        params = {**(global_overrides.get(rs_name) or {}), **entry}
        rs_config = _build(RULE_SETS[rs_name].config_cls, params, f"{where}.{rs_name}")
        selections.append(RuleSelection(rs_name, mode, rs_config))
    return CategoryConfig(
        rule_sets=tuple(selections),
        languages=tuple(spec.get("languages") or ()),
        drop_lang_mismatch=bool(spec.get("drop_lang_mismatch", False)),
    )


def _build(cls: type, params: Mapping[str, Any] | None, where: str):
    params = dict(params or {})
    _only_keys(params, {f.name for f in fields(cls)}, where)
    return cls(**{k: _tuples(v) for k, v in params.items()})


def _tuples(value: Any) -> Any:
    """YAML lists → tuples, so configs stay frozen and hashable."""
    return tuple(_tuples(v) for v in value) if isinstance(value, list) else value


def _only_keys(mapping: Mapping, allowed: set[str], where: str) -> None:
    refuse_unknown_keys(mapping, allowed, where, "key(s)")


def _jsonable(obj: Any) -> Any:
    if dataclasses.is_dataclass(obj):
        return {f.name: _jsonable(getattr(obj, f.name)) for f in fields(obj)}
    if isinstance(obj, Mapping):
        return {k: _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, tuple | list):
        return [_jsonable(v) for v in obj]
    return obj
