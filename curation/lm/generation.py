"""Text generation backends: Hugging Face transformers (CPU or CUDA) and vLLM (CUDA only).

Both take plain user prompts, wrap them in the tokenizer's chat template (``encode_chat``,
shared so the two backends see identical token ids) and return only the generated text.
"""

import importlib.util
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Protocol

from curation.lm.models import describe_model, model_fingerprint

BackendKind = Literal["auto", "vllm", "transformers"]


class BackendUnavailableError(RuntimeError):
    """The requested backend cannot run here (no CUDA, vLLM not installed)."""


class PromptTooLongError(ValueError):
    """A prompt plus its generation budget does not fit the model's context window."""


class LLMBackend(Protocol):
    model_id: str  # what a person reads: the spec or directory name
    fingerprint: str  # content hash of weights + tokenizer: part of every cache key
    context_length: int

    def generate(
        self, prompts: list[str], max_new_tokens: int, temperature: float, seed: int, system: str | None = None
    ) -> list[str]: ...

    def count_tokens(self, text: str) -> int: ...


@dataclass
class GenerationCounters:
    """Running totals a stage turns into tokens/s for the UI."""

    calls: int = 0
    prompts: int = 0
    prompt_tokens: int = 0
    new_tokens: int = 0
    seconds: float = 0.0

    def as_dict(self) -> dict:
        tps = self.new_tokens / self.seconds if self.seconds else 0.0
        return {
            "calls": self.calls,
            "prompts": self.prompts,
            "prompt_tokens": self.prompt_tokens,
            "new_tokens": self.new_tokens,
            "seconds": round(self.seconds, 3),
            "new_tokens_per_s": round(tps, 2),
        }


def encode_chat(tokenizer, user: str, system: str | None = None) -> list[int]:
    """Token ids of one user turn, ready for the assistant to answer.

    With a chat template the template decides special tokens (BOS included), so none are
    added again; a tokenizer without one (a base model) gets the plain text plus its BOS.
    """
    if getattr(tokenizer, "chat_template", None):
        messages = ([{"role": "system", "content": system}] if system else []) + [{"role": "user", "content": user}]
        text = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        return tokenizer(text, add_special_tokens=False)["input_ids"]
    text = f"{system}\n\n{user}\n\n" if system else f"{user}\n\n"
    return tokenizer(text, add_special_tokens=True)["input_ids"]


def _check_fits(ids: list[int], max_new_tokens: int, context_length: int) -> None:
    if len(ids) + max_new_tokens > context_length:
        raise PromptTooLongError(
            f"prompt of {len(ids)} tokens + {max_new_tokens} new tokens exceeds the {context_length}-token context; "
            "chunk the input to a smaller token budget"
        )


class TransformersBackend:
    """Batched ``model.generate`` with left padding; greedy at temperature 0, else seeded sampling."""

    def __init__(
        self, model_dir: Path, device: str | None = None, dtype=None, batch_size: int = 8, model_id: str | None = None
    ):
        import torch

        from curation.lm.models import default_device, load_causal_lm

        self.model_dir = Path(model_dir)
        self.device = device or default_device()
        self.tokenizer, self.model = load_causal_lm(self.model_dir, self.device, dtype)
        self.tokenizer.padding_side = "left"  # decoder-only: new tokens must follow the prompt directly
        if self.tokenizer.pad_token_id is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token or self.tokenizer.unk_token
        self.batch_size = batch_size
        self.model_id = model_id or self.model_dir.name
        self.fingerprint = model_fingerprint(self.model_dir)
        self.context_length = int(describe_model(self.model_dir)["max_position_embeddings"] or 2048)
        self.counters = GenerationCounters()
        self._torch = torch

    def count_tokens(self, text: str) -> int:
        return len(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    def generate(
        self, prompts: list[str], max_new_tokens: int, temperature: float, seed: int, system: str | None = None
    ) -> list[str]:
        from transformers import GenerationConfig

        torch = self._torch
        encoded = [encode_chat(self.tokenizer, p, system) for p in prompts]
        for ids in encoded:
            _check_fits(ids, max_new_tokens, self.context_length)
        sampling = temperature > 0
        config = GenerationConfig(
            max_new_tokens=max_new_tokens,
            do_sample=sampling,
            temperature=temperature if sampling else None,
            top_p=None,
            top_k=None,
            pad_token_id=self.tokenizer.pad_token_id,
            eos_token_id=self.tokenizer.eos_token_id,
        )
        # longest first, so each batch pads little; outputs go back to the caller's order
        order = sorted(range(len(encoded)), key=lambda i: -len(encoded[i]))
        outputs: list[str] = [""] * len(encoded)
        start = time.perf_counter()
        torch.manual_seed(seed)
        for lo in range(0, len(order), self.batch_size):
            idx = order[lo : lo + self.batch_size]
            batch = self.tokenizer.pad({"input_ids": [encoded[i] for i in idx]}, return_tensors="pt").to(self.device)
            with torch.inference_mode():
                out = self.model.generate(**batch, generation_config=config)
            new = out[:, batch["input_ids"].shape[1] :]
            for i, row in zip(idx, new, strict=True):
                kept = row[row != self.tokenizer.pad_token_id]
                self.counters.new_tokens += int(kept.numel())
                outputs[i] = self.tokenizer.decode(kept, skip_special_tokens=True).strip()
        self.counters.seconds += time.perf_counter() - start
        self.counters.calls += 1
        self.counters.prompts += len(prompts)
        self.counters.prompt_tokens += sum(len(ids) for ids in encoded)
        return outputs


class VLLMBackend:
    """vLLM offline engine (``LLM.generate``) on CUDA; the same chat-encoded token ids as transformers.

    One ``SamplingParams`` with a fixed seed for every request makes each output depend on its
    prompt and seed only, not on which other prompts shared the batch — which the cache relies on.
    """

    def __init__(
        self,
        model_dir: Path,
        dtype: str = "auto",
        gpu_memory_utilization: float = 0.85,
        max_model_len: int | None = None,
        model_id: str | None = None,
    ):
        from vllm import LLM  # lazy: only installed with the `gpu` extra

        self.model_dir = Path(model_dir)
        self._llm = LLM(
            model=str(self.model_dir),
            tokenizer=str(self.model_dir),
            dtype=dtype,
            gpu_memory_utilization=gpu_memory_utilization,
            max_model_len=max_model_len,
        )
        self.tokenizer = self._llm.get_tokenizer()
        self.model_id = model_id or self.model_dir.name
        self.fingerprint = model_fingerprint(self.model_dir)
        native = int(describe_model(self.model_dir)["max_position_embeddings"] or 2048)
        self.context_length = min(native, max_model_len) if max_model_len else native
        self.counters = GenerationCounters()

    def count_tokens(self, text: str) -> int:
        return len(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    def generate(
        self, prompts: list[str], max_new_tokens: int, temperature: float, seed: int, system: str | None = None
    ) -> list[str]:
        from vllm import SamplingParams

        encoded = [encode_chat(self.tokenizer, p, system) for p in prompts]
        for ids in encoded:
            _check_fits(ids, max_new_tokens, self.context_length)
        params = SamplingParams(temperature=temperature, max_tokens=max_new_tokens, seed=seed)
        start = time.perf_counter()
        results = self._llm.generate([{"prompt_token_ids": ids} for ids in encoded], params, use_tqdm=False)
        self.counters.seconds += time.perf_counter() - start
        self.counters.calls += 1
        self.counters.prompts += len(prompts)
        self.counters.prompt_tokens += sum(len(ids) for ids in encoded)
        self.counters.new_tokens += sum(len(r.outputs[0].token_ids) for r in results)
        return [r.outputs[0].text.strip() for r in results]


def vllm_unavailable_reason() -> str | None:
    """Why vLLM cannot run here, or None when it can (CUDA visible and the package importable)."""
    import torch

    if not torch.cuda.is_available():
        return "no CUDA device is visible (torch.cuda.is_available() is False)"
    if importlib.util.find_spec("vllm") is None:
        return "the vllm package is not installed (install the `gpu` extra: vllm==0.32.0)"
    return None


def resolve_backend_kind(kind: BackendKind) -> Literal["vllm", "transformers"]:
    """``auto`` picks vLLM when it can run and transformers otherwise; ``vllm`` fails loudly if it cannot."""
    if kind == "transformers":
        return "transformers"
    if kind not in ("auto", "vllm"):
        raise ValueError(f"unknown backend kind {kind!r}: expected 'auto', 'vllm' or 'transformers'")
    reason = vllm_unavailable_reason()
    if reason is None:
        return "vllm"
    if kind == "vllm":
        raise BackendUnavailableError(f"backend 'vllm' requested but {reason}")
    return "transformers"


def make_backend(kind: BackendKind, model_dir: Path, model_id: str | None = None, **kwargs) -> LLMBackend:
    """Build the backend ``kind`` resolves to; ``kwargs`` go to its constructor."""
    if resolve_backend_kind(kind) == "vllm":
        return VLLMBackend(model_dir, model_id=model_id, **kwargs)
    return TransformersBackend(model_dir, model_id=model_id, **kwargs)
