"""The rewriting stage's knobs, with paper defaults, loadable from ``configs/rewrite.yaml``."""

import dataclasses
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from curation.config_keys import refuse_unknown_keys
from curation.rewrite.validate import ValidationConfig

DEFAULT_PROMPTS_DIR = Path(__file__).resolve().parents[2] / "configs" / "prompts"


@dataclass(frozen=True)
class SelectionConfig:
    # Nemotron-CC rephrases only its high-quality buckets (Su et al. 2024; seed 003, 6.2 ①);
    # None rewrites every document
    column: str | None = "quality_bucket"
    values: tuple[str, ...] = ("high",)
    # a CPU demo budget: rewriting is ~10 tokens/s per core with SmolLM2-135M; None = no cap
    max_docs_per_category: int | None = 16
    # deterministic sampling on a hash of the id, before the cap (1.0 keeps all)
    sample_rate: float = 1.0
    # shorter documents carry too little to rephrase (our choice)
    min_chars: int = 100
    # longer documents are left alone (a CPU demo budget: one ~300-token chunk each); None = no cap
    max_chars: int | None = None


@dataclass(frozen=True)
class RewriteConfig:
    # the model and backend (vLLM / transformers) come from the LLM resource, shared with training and eval
    styles: tuple[str, ...] = ("wrap_medium", "diverse_qa_pairs")
    prompts_dir: Path = DEFAULT_PROMPTS_DIR
    # WRAP (Maini et al. 2024, Sec. 3): ~300-token pieces, longer outputs lost information
    chunk_tokens: int = 300
    # K2 rewrites long documents chunk by chunk (seed 003); beyond this a document is dropped as too long
    max_chunks_per_doc: int = 8
    max_new_tokens: int = 512
    temperature: float = 0.7  # sampling, so a retry with another seed can differ (our choice)
    seed: int = 0
    # bounded retries with a new seed (seed 003: 错误重试); at temperature 0 a retry would repeat itself
    max_attempts: int = 3
    # WRAP mixes real and synthetic data: synthetic alone hurt perplexity (Maini et al. 2024, data-combination analysis)
    keep_originals: bool = True
    selection: SelectionConfig = field(default_factory=SelectionConfig)
    validation: ValidationConfig = field(default_factory=ValidationConfig)

    def __post_init__(self):
        if self.max_attempts < 1 or self.chunk_tokens < 16 or self.max_new_tokens < 1:
            raise ValueError("max_attempts >= 1, chunk_tokens >= 16 and max_new_tokens >= 1 are required")
        if not 0 < self.selection.sample_rate <= 1:
            raise ValueError(f"selection.sample_rate must be in (0, 1], got {self.selection.sample_rate}")

    def as_dict(self) -> dict:
        data = dataclasses.asdict(self)
        data["prompts_dir"] = str(self.prompts_dir)
        return data

    @property
    def version(self) -> str:
        """Short hash of every knob: the ``param_version`` on drop rows."""
        return hashlib.sha256(json.dumps(self.as_dict(), sort_keys=True).encode()).hexdigest()[:12]


def _build(cls, data: dict, where: str):
    names = {f.name for f in dataclasses.fields(cls)}
    refuse_unknown_keys(data, names, where)
    return {k: tuple(v) if isinstance(v, list) else v for k, v in data.items()}


def load_rewrite_config(path: Path) -> RewriteConfig:
    """Read ``configs/rewrite.yaml``; a relative ``prompts_dir`` is resolved against the file's folder."""
    path = Path(path)
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    top = _build(RewriteConfig, data, str(path))
    top["selection"] = SelectionConfig(**_build(SelectionConfig, data.get("selection") or {}, f"{path}: selection"))
    top["validation"] = ValidationConfig(
        **_build(ValidationConfig, data.get("validation") or {}, f"{path}: validation")
    )
    if "prompts_dir" in top:
        top["prompts_dir"] = (path.parent / top["prompts_dir"]).resolve()
    return RewriteConfig(**top)
