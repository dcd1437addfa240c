"""Quality scoring: heuristic rule sets (Gopher, C4, FineWeb, code), language ID, KenLM
perplexity, a DCLM fastText classifier, a FineWeb-Edu style regressor and the Nemotron-CC
bucket ensemble. Framework-free: the Dagster asset calls ``score_partition``."""

from curation.scoring.config import (
    CategoryConfig,
    ScoringConfig,
    load_scoring_config,
    scoring_config_from_dict,
)
from curation.scoring.edu_regressor import (
    EduRegressor,
    rubric_label,
    train_edu_regressor,
)
from curation.scoring.ensemble import (
    EnsembleConfig,
    ensemble_buckets,
    percentile_edges,
    quality_labels,
    to_buckets,
)
from curation.scoring.fasttext_dclm import (
    DCLMClassifier,
    DCLMTrainConfig,
    train_dclm_fasttext,
)
from curation.scoring.heuristics import RULE_SETS, RuleSelection, apply_rules
from curation.scoring.kenlm_ppl import KenLMConfig, KenLMScorer, train_kenlm
from curation.scoring.langid import LangIdConfig, LanguageId
from curation.scoring.stage import (
    CATEGORICAL_VALUES,
    SCORE_FIELDS,
    SCORE_RANGES,
    ScoringModels,
    score_partition,
    scored_schema,
)
from curation.scoring.text_stats import TextStats

__all__ = [
    "CATEGORICAL_VALUES",
    "RULE_SETS",
    "SCORE_FIELDS",
    "SCORE_RANGES",
    "CategoryConfig",
    "DCLMClassifier",
    "DCLMTrainConfig",
    "EduRegressor",
    "EnsembleConfig",
    "KenLMConfig",
    "KenLMScorer",
    "LangIdConfig",
    "LanguageId",
    "RuleSelection",
    "ScoringConfig",
    "ScoringModels",
    "TextStats",
    "apply_rules",
    "ensemble_buckets",
    "load_scoring_config",
    "percentile_edges",
    "quality_labels",
    "rubric_label",
    "score_partition",
    "scored_schema",
    "scoring_config_from_dict",
    "to_buckets",
    "train_dclm_fasttext",
    "train_edu_regressor",
    "train_kenlm",
]
