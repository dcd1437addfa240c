"""Text generation backends: Hugging Face transformers (CPU or CUDA) and vLLM (CUDA only).

Both take plain user prompts, wrap them in the tokenizer's chat template (``encode_chat``,
shared so the two backends see identical token ids) and return the assistant's reply: the
request's ``response_prefix`` (the opening of the reply, written for the model: structured
generation by prefill, so a small model continues inside the format instead of inventing its
own) followed by what the model generated, cut before the first of the request's ``stop`` strings
(generation also ends there: one section of a structured answer at a time).
``generate_requests`` takes many requests with their own sampling parameters at once: vLLM
serves them in one ``LLM.generate`` call (one ``SamplingParams`` per request, prefix caching
on, so the shared instruction prefix of a style is computed once); transformers groups them
by sampling parameters into padded batches.
"""

import importlib.util
import time
from collections import defaultdict
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal, Protocol

from curation.lm.models import describe_model, model_fingerprint

BackendKind = Literal["auto", "vllm", "transformers"]


class BackendUnavailableError(RuntimeError):
    """The requested backend cannot run here (no CUDA, vLLM not installed)."""


class PromptTooLongError(ValueError):
    """A prompt plus its generation budget does not fit the model's context window."""


@dataclass(frozen=True)
class Sampling:
    """Sampling parameters of one request (vLLM's SamplingParams fields of the same names)."""

    max_new_tokens: int
    temperature: float = 0.0
    top_p: float = 1.0
    seed: int = 0
    stop: tuple[str, ...] = ()  # generation ends before the first of these (vLLM's ``stop``, excluded)
    # > 1 discounts tokens already in the prompt or the reply (CTRL's penalized sampling, Keskar et al. 2019)
    repetition_penalty: float = 1.0

    def as_dict(self) -> dict:
        d = asdict(self)
        # absent when unused, so cache keys written before these fields existed still match
        if not self.stop:
            del d["stop"]
        else:
            d["stop"] = list(self.stop)
        if self.repetition_penalty == 1.0:
            del d["repetition_penalty"]
        return d


@dataclass(frozen=True)
class GenerationRequest:
    prompt: str  # the user turn
    sampling: Sampling
    system: str | None = None
    response_prefix: str = ""  # the assistant turn starts with it; the reply returned includes it


class LLMBackend(Protocol):
    name: str  # "transformers" or "vllm": part of the cache key and the provenance
    model_id: str  # what a person reads: the spec or directory name
    fingerprint: str  # content hash of weights + tokenizer: part of every cache key
    context_length: int

    def generate_requests(self, requests: list[GenerationRequest]) -> list[str]: ...

    def count_tokens(self, text: str) -> int: ...


def group_key(request: GenerationRequest) -> tuple:
    """What the requests of one padded transformers batch share: sampling, system turn, response prefix."""
    return request.sampling, request.system, request.response_prefix


def group_by_sampling(requests: list[GenerationRequest]) -> dict[tuple, list[int]]:
    """Request indices grouped by ``group_key``: the unit one padded transformers batch can share."""
    groups: dict[tuple, list[int]] = defaultdict(list)
    for i, request in enumerate(requests):
        groups[group_key(request)].append(i)
    return groups


def plan_batches(requests: list[GenerationRequest], lengths: list[int], batch_size: int) -> list[list[int]]:
    """The padded batches the transformers backend runs, as request indices: per ``group_key`` group, longest
    prompt first (so each batch pads little), ``batch_size`` at a time. Padding changes a batch's floating-point
    sums, so a batch's texts depend on its members: whoever runs them (this process or the Ray engine's
    workers) plans the same batches and gets the same texts."""
    batches = []
    for idx in group_by_sampling(requests).values():
        order = sorted(idx, key=lambda i: -lengths[i])
        batches += [order[lo : lo + batch_size] for lo in range(0, len(order), batch_size)]
    return batches


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


def encode_chat(tokenizer, user: str, system: str | None = None, response_prefix: str = "") -> list[int]:
    """Token ids of one user turn, ready for the assistant to answer (after ``response_prefix``, the
    opening of its reply, when given).

    With a chat template the template decides special tokens (BOS included), so none are
    added again; a tokenizer without one (a base model) gets the plain text plus its BOS.
    """
    if getattr(tokenizer, "chat_template", None):
        messages = ([{"role": "system", "content": system}] if system else []) + [{"role": "user", "content": user}]
        text = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        return tokenizer(text + response_prefix, add_special_tokens=False)["input_ids"]
    text = f"{system}\n\n{user}\n\n" if system else f"{user}\n\n"
    return tokenizer(text + response_prefix, add_special_tokens=True)["input_ids"]


def encode_request(tokenizer, request: GenerationRequest) -> list[int]:
    """``encode_chat`` of one request: the token ids every backend (and the Ray engine's planner) feeds the model."""
    return encode_chat(tokenizer, request.prompt, request.system, request.response_prefix)


def count_tokens(tokenizer, text: str) -> int:
    """Tokens of plain text (no special tokens): what the stages budget prompts with."""
    return len(tokenizer(text, add_special_tokens=False)["input_ids"])


def reply(response_prefix: str, generated: str, stop: tuple[str, ...] = ()) -> str:
    """The assistant's whole reply: the prefilled opening and the model's continuation up to (without)
    the first stop string. Transformers keeps the stop string it halted on and vLLM drops it: both end
    up the same here."""
    cut = min((i for i in (generated.find(s) for s in stop if s) if i >= 0), default=len(generated))
    return (response_prefix + generated[:cut]).strip()


def native_context_length(model_dir: Path) -> int:
    """The model's context window from its config (2,048 when the config does not say)."""
    return int(describe_model(model_dir)["max_position_embeddings"] or 2048)


def _check_fits(ids: list[int], max_new_tokens: int, context_length: int) -> None:
    if len(ids) + max_new_tokens > context_length:
        raise PromptTooLongError(
            f"prompt of {len(ids)} tokens + {max_new_tokens} new tokens exceeds the {context_length}-token context; "
            "chunk the input to a smaller token budget"
        )


class TransformersBackend:
    """Batched ``model.generate`` with left padding; greedy at temperature 0, else seeded sampling."""

    name = "transformers"

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
        self.context_length = native_context_length(self.model_dir)
        self.counters = GenerationCounters()
        self._torch = torch

    def count_tokens(self, text: str) -> int:
        return count_tokens(self.tokenizer, text)

    def encode(self, request: GenerationRequest) -> list[int]:
        return encode_request(self.tokenizer, request)

    def generate_requests(self, requests: list[GenerationRequest]) -> list[str]:
        encoded = [self.encode(r) for r in requests]
        outputs: list[str] = [""] * len(requests)
        for idx in plan_batches(requests, [len(ids) for ids in encoded], self.batch_size):
            texts = self.generate_batch([requests[i] for i in idx], [encoded[i] for i in idx])
            for i, text in zip(idx, texts, strict=True):
                outputs[i] = text
        return outputs

    def generate_batch(self, requests: list[GenerationRequest], encoded: list[list[int]] | None = None) -> list[str]:
        """One padded ``model.generate`` over requests that share sampling, system turn and response prefix
        (a batch of ``plan_batches``). Seeded afresh per batch, so its texts depend on its own requests only,
        whichever process runs it (the Ray engine spreads the batches over workers)."""
        from transformers import GenerationConfig

        torch = self._torch
        sampling, system, prefix = group_key(requests[0])
        if any(group_key(r) != (sampling, system, prefix) for r in requests):
            raise ValueError("a transformers batch must share sampling, system turn and response prefix")
        encoded = encoded if encoded is not None else [self.encode(r) for r in requests]
        for ids in encoded:
            _check_fits(ids, sampling.max_new_tokens, self.context_length)
        sampled = sampling.temperature > 0
        config = GenerationConfig(
            max_new_tokens=sampling.max_new_tokens,
            do_sample=sampled,
            temperature=sampling.temperature if sampled else None,
            top_p=sampling.top_p if sampled and sampling.top_p < 1.0 else None,
            top_k=None,
            pad_token_id=self.tokenizer.pad_token_id,
            eos_token_id=self.tokenizer.eos_token_id,
            stop_strings=list(sampling.stop) or None,
            repetition_penalty=sampling.repetition_penalty if sampling.repetition_penalty != 1.0 else None,
        )
        start = time.perf_counter()
        torch.manual_seed(sampling.seed)
        batch = self.tokenizer.pad({"input_ids": encoded}, return_tensors="pt").to(self.device)
        with torch.inference_mode():
            # the tokenizer lets generate match stop strings across token boundaries
            out = self.model.generate(**batch, generation_config=config, tokenizer=self.tokenizer)
        outputs = []
        for row in out[:, batch["input_ids"].shape[1] :]:
            kept = row[row != self.tokenizer.pad_token_id]
            self.counters.new_tokens += int(kept.numel())
            outputs.append(reply(prefix, self.tokenizer.decode(kept, skip_special_tokens=True), sampling.stop))
        self.counters.seconds += time.perf_counter() - start
        self.counters.calls += 1
        self.counters.prompts += len(requests)
        self.counters.prompt_tokens += sum(len(ids) for ids in encoded)
        return outputs

    def generate(
        self,
        prompts: list[str],
        max_new_tokens: int,
        temperature: float,
        seed: int,
        system: str | None = None,
        top_p: float = 1.0,
        response_prefix: str = "",
        stop: tuple[str, ...] = (),
        repetition_penalty: float = 1.0,
    ) -> list[str]:
        sampling = Sampling(max_new_tokens, temperature, top_p, seed, tuple(stop), repetition_penalty)
        return self.generate_requests([GenerationRequest(p, sampling, system, response_prefix) for p in prompts])


class VLLMBackend:
    """vLLM offline engine on CUDA: one ``LLM.generate`` over every request, each with its own ``SamplingParams``.

    Prompts go in as token ids from the same ``encode_chat`` the transformers backend uses.
    Prefix caching is on: the requests of one style share the system turn and instruction, so
    their KV blocks are computed once. A fixed seed per request makes each output depend on its
    prompt and sampling only, not on which other prompts shared the batch (the cache relies on it).
    ``vllm_module`` is for tests without a GPU: anything with vLLM's ``LLM`` and ``SamplingParams``.
    """

    name = "vllm"

    def __init__(
        self,
        model_dir: Path,
        dtype: str = "auto",
        gpu_memory_utilization: float = 0.85,
        max_model_len: int | None = None,
        model_id: str | None = None,
        enable_prefix_caching: bool = True,
        vllm_module=None,
    ):
        if vllm_module is None:
            reason = vllm_unavailable_reason()
            if reason is not None:
                raise BackendUnavailableError(f"the vLLM backend cannot start: {reason}")
            import vllm as vllm_module  # lazy: only installed with the `gpu` extra

        self._vllm = vllm_module
        self.model_dir = Path(model_dir)
        self._llm = vllm_module.LLM(
            model=str(self.model_dir),
            tokenizer=str(self.model_dir),
            dtype=dtype,
            gpu_memory_utilization=gpu_memory_utilization,
            max_model_len=max_model_len,
            enable_prefix_caching=enable_prefix_caching,
        )
        self.tokenizer = self._llm.get_tokenizer()
        self.model_id = model_id or self.model_dir.name
        self.fingerprint = model_fingerprint(self.model_dir)
        native = native_context_length(self.model_dir)
        self.context_length = min(native, max_model_len) if max_model_len else native
        self.counters = GenerationCounters()

    def count_tokens(self, text: str) -> int:
        return count_tokens(self.tokenizer, text)

    def sampling_params(self, sampling: Sampling):
        optional = {"stop": list(sampling.stop)} if sampling.stop else {}
        if sampling.repetition_penalty != 1.0:
            optional["repetition_penalty"] = sampling.repetition_penalty
        return self._vllm.SamplingParams(
            temperature=sampling.temperature, top_p=sampling.top_p, max_tokens=sampling.max_new_tokens,
            seed=sampling.seed, **optional,
        )

    def generate_requests(self, requests: list[GenerationRequest]) -> list[str]:
        encoded = [encode_request(self.tokenizer, r) for r in requests]
        for ids, request in zip(encoded, requests, strict=True):
            _check_fits(ids, request.sampling.max_new_tokens, self.context_length)
        params = [self.sampling_params(r.sampling) for r in requests]
        start = time.perf_counter()
        results = self._llm.generate([{"prompt_token_ids": ids} for ids in encoded], params, use_tqdm=False)
        self.counters.seconds += time.perf_counter() - start
        self.counters.calls += 1
        self.counters.prompts += len(requests)
        self.counters.prompt_tokens += sum(len(ids) for ids in encoded)
        self.counters.new_tokens += sum(len(r.outputs[0].token_ids) for r in results)
        return [reply(req.response_prefix, r.outputs[0].text, req.sampling.stop)
                for req, r in zip(requests, results, strict=True)]

    def generate(
        self, prompts: list[str], max_new_tokens: int, temperature: float, seed: int, system: str | None = None,
        top_p: float = 1.0,
    ) -> list[str]:
        sampling = Sampling(max_new_tokens, temperature, top_p, seed)
        return self.generate_requests([GenerationRequest(p, sampling, system) for p in prompts])


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


@dataclass(frozen=True)
class BackendSpec:
    """What opens a backend: picklable, so a compute engine's workers open the model themselves."""

    kind: BackendKind
    model_dir: Path
    model_id: str | None = None

    def open(self) -> LLMBackend:
        return make_backend(self.kind, self.model_dir, model_id=self.model_id)
