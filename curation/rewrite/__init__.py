"""LLM rewriting of scored documents into synthetic ones (WRAP, Nemotron-CC, SwallowCode/Math, K2, MAGA; seed 003)."""

from curation.rewrite.cache import GenerationCache
from curation.rewrite.config import RewriteConfig, SelectionConfig, load_rewrite_config
from curation.rewrite.stage import STAGE, SYNTHETIC_COLUMNS, output_schema, rewrite_partition

__all__ = [
    "STAGE",
    "SYNTHETIC_COLUMNS",
    "GenerationCache",
    "RewriteConfig",
    "SelectionConfig",
    "load_rewrite_config",
    "output_schema",
    "rewrite_partition",
]
