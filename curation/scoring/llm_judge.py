"""LLM-as-a-judge labels for the edu regressor (seed 001; FineWeb-Edu, Penedo et al. 2024, §4: an LLM
grades a sample with an additive 0-5 rubric, a small regressor learns the grades).

The rubric is a prompt file (``configs/prompts/judges/edu_rubric.yaml``); the model is the ``llm``
resource's backend (curation/lm/generation.py: vLLM on a GPU, transformers otherwise). Each answer must
end with ``Score: N``; an answer without one gives no label (counted) and its document is left out of the
training set rather than guessed. Answers are cached (curation/rewrite/cache.py) by backend, model
fingerprint, prompt and sampling, so re-training never asks twice.

Whether the judge runs: ``labels: llm`` forces it; ``labels: auto`` (the default) uses it only when the
backend is vLLM (a GPU) and the model has at least ``min_params`` parameters, because a small model does
not follow a five-point rubric (SmolLM2-135M on CPU answers with the rubric's own wording); otherwise the
rubric proxy (edu_regressor.rubric_label) labels, and the asset's metadata says PROXY. A judge that
parses fewer than ``min_parsed_share`` of its answers is not credible either: the proxy labels then,
with the reason.
"""

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from curation.config_keys import refuse_unknown_keys
from curation.lm.generation import GenerationRequest, LLMBackend, Sampling
from curation.rewrite.cache import GenerationCache, generation_key

SLOT = "{document}"
# The last "Score: N" (0-5) of an answer; full-width colon and 分数/评分 accepted (a model answering in Chinese)
SCORE_RE = re.compile(r"(?:score|分数|评分)\s*[:：]\s*\**\s*([0-5])(?:\s*/\s*5)?\b", re.IGNORECASE)
LABEL_MODES = ("auto", "proxy", "llm")


@dataclass(frozen=True)
class JudgePrompt:
    name: str
    source: str
    system: str | None
    user: str
    max_document_chars: int = 3000
    max_new_tokens: int = 160
    path: str = ""

    @property
    def digest(self) -> str:
        import hashlib

        return hashlib.sha256(f"judge\0{self.system or ''}\0{self.user}".encode()).hexdigest()

    def render(self, document: str) -> str:
        return self.user.replace(SLOT, document[: self.max_document_chars])


def load_judge_prompt(path: Path | str) -> JudgePrompt:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"judge prompt {path} does not exist")
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    refuse_unknown_keys(data, {"name", "source", "system", "user", "max_document_chars", "max_new_tokens"}, str(path))
    if "user" not in data or data["user"].count(SLOT) != 1:
        raise ValueError(f"judge prompt {path}: 'user' must contain {SLOT} exactly once")
    return JudgePrompt(name=str(data.get("name", path.stem)), source=str(data.get("source", "")),
                       system=data.get("system") or None, user=data["user"],
                       max_document_chars=int(data.get("max_document_chars", 3000)),
                       max_new_tokens=int(data.get("max_new_tokens", 160)), path=str(path))


def parse_score(answer: str) -> int | None:
    """The grade an answer ends with (its last ``Score: N``), or None."""
    found = SCORE_RE.findall(answer or "")
    return int(found[-1]) if found else None


@dataclass
class JudgeResult:
    labels: list[int | None]
    answers: list[str]
    cache_hits: int = 0
    generated: int = 0
    stats: dict = field(default_factory=dict)

    @property
    def parsed_share(self) -> float:
        return sum(x is not None for x in self.labels) / len(self.labels) if self.labels else 0.0


def judge(texts: Sequence[str], backend: LLMBackend, prompt: JudgePrompt, cache: GenerationCache | None = None,
          batch_size: int = 64, seed: int = 0) -> JudgeResult:
    """Grade ``texts`` 0-5 with ``prompt`` (greedy decoding); None where an answer carries no score."""
    sampling = Sampling(max_new_tokens=prompt.max_new_tokens, temperature=0.0, seed=seed)
    rendered = [prompt.render(t) for t in texts]
    keys = [generation_key(backend.name, backend.fingerprint, prompt.digest, r, sampling.as_dict()) for r in rendered]
    found = cache.get_many(keys) if cache is not None else {}
    answers = [found.get(k) for k in keys]
    todo = [i for i, a in enumerate(answers) if a is None]
    for lo in range(0, len(todo), batch_size):
        part = todo[lo:lo + batch_size]
        outs = backend.generate_requests([GenerationRequest(rendered[i], sampling, prompt.system) for i in part])
        for i, out in zip(part, outs, strict=True):
            answers[i] = out
        if cache is not None:
            cache.put_many([(keys[i], answers[i], backend.model_id, f"judge:{prompt.name}") for i in part])
    labels = [parse_score(a) for a in answers]
    result = JudgeResult(labels, answers, cache_hits=len(texts) - len(todo), generated=len(todo))
    result.stats = {"judged": len(texts), "parsed": sum(x is not None for x in labels),
                    "parsed_share": round(result.parsed_share, 4), "generated": len(todo),
                    "cache_hits": len(texts) - len(todo),
                    "label_histogram": [sum(x == k for x in labels) for k in range(6)]}
    return result


def approx_params(model_dir: Path) -> float | None:
    """Parameters of a local HF model from its weight files' sizes and dtype (None: no weight file)."""
    import json

    model_dir = Path(model_dir)
    files = [*model_dir.glob("*.safetensors"), *model_dir.glob("*.bin")]
    if not files:
        return None
    config = json.loads((model_dir / "config.json").read_text()) if (model_dir / "config.json").is_file() else {}
    dtype = str(config.get("torch_dtype") or config.get("dtype") or "float32")
    width = 4 if "32" in dtype else 1 if "int8" in dtype or "fp8" in dtype else 2
    return sum(f.stat().st_size for f in files) / width


def judge_decision(mode: str, backend_kind: str, params: float | None, min_params: float) -> tuple[bool, str]:
    """(use the LLM judge, why) for ``labels: auto | proxy | llm``."""
    if mode not in LABEL_MODES:
        raise ValueError(f"edu_regressor.labels must be one of {list(LABEL_MODES)}, got {mode!r}")
    if mode == "proxy":
        return False, "configured: labels: proxy"
    if mode == "llm":
        return True, "configured: labels: llm"
    if backend_kind != "vllm":
        return False, f"no capable judge: the llm backend is {backend_kind} (vLLM needs a GPU)"
    if params is None or params < min_params:
        size = "unknown size" if params is None else f"~{params / 1e9:.2g}B parameters"
        return False, f"no capable judge: the llm model has {size} < min_params {min_params / 1e9:.2g}B"
    return True, f"vLLM with a ~{params / 1e9:.2g}B-parameter model"
