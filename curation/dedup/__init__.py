"""Deduplication core: exact, MinHash-LSH near-duplicate and SemDeDup-style semantic, global and incremental.

Entry points: ``DedupConfig`` (config.py), ``dedup_partition`` (stage.py), ``explain_removal`` and
``sample_removed_pairs`` (lineage.py). No Dagster import here.
"""

from curation.dedup.config import DedupConfig
from curation.dedup.stage import dedup_partition
from curation.lineage import explain_removal, pairs_markdown, sample_removed_pairs

__all__ = ["DedupConfig", "dedup_partition", "explain_removal", "pairs_markdown", "sample_removed_pairs"]
