"""LLM rewriting of selected documents into synthetic ones (WRAP, Nemotron-CC styles; seeds 001, 003)."""

from curation.rewrite.cache import GenerationCache
from curation.rewrite.config import RewriteConfig, SelectionConfig, load_rewrite_config
from curation.rewrite.stage import STAGE, output_schema, rewrite_partition

__all__ = [
    "STAGE",
    "GenerationCache",
    "RewriteConfig",
    "SelectionConfig",
    "load_rewrite_config",
    "output_schema",
    "rewrite_partition",
]
