"""Synthetic reasoning data from scored documents: seed 001's CoT synthesis (chunk → summarize →
instruction + chain of thought) and seed 002's discipline QA, each step resumable and cached."""

from curation.synthesis.config import (
    CHUNKS,
    COT,
    DISCIPLINE_QA,
    STEPS,
    SUMMARIES,
    SynthesisConfig,
    load_synthesis_config,
)
from curation.synthesis.stage import (
    PARTITION_FUNCTIONS,
    SCHEMAS,
    STAGES,
    TRAINING_STAGES,
    chunk_partition,
    cot_partition,
    discipline_qa_partition,
    summary_partition,
)

__all__ = [
    "CHUNKS", "COT", "DISCIPLINE_QA", "PARTITION_FUNCTIONS", "SCHEMAS", "STAGES", "STEPS", "SUMMARIES",
    "TRAINING_STAGES", "SynthesisConfig", "chunk_partition", "cot_partition", "discipline_qa_partition",
    "load_synthesis_config", "summary_partition",
]
