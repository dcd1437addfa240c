"""LLM generation on the Ray engine's workers: a backend with the ``LLMBackend`` interface whose requests run on
Ray actors, each holding its own copy of the model (opened once, from a picklable ``BackendSpec``).

transformers: the driver plans the very padded batches the in-process backend runs (``plan_batches``, from the
prompts' token lengths; a batch is seeded afresh) and hands one batch to each free actor, so every text is the one
the local backend gives. vLLM: one actor per GPU, each given a contiguous share of the requests; vLLM seeds each
request itself, so a text depends on its prompt and sampling only, not on the share it travelled in.

The driver keeps the tokenizer alone (token counts for the stages' budgets, batch planning); the cache key parts
(backend name, model fingerprint) are the in-process backend's, so a local run's cache serves a Ray run.
"""

import time
from dataclasses import fields, replace

from curation.lm.generation import (
    BackendSpec,
    GenerationCounters,
    GenerationRequest,
    count_tokens,
    encode_request,
    native_context_length,
    plan_batches,
)
from curation.lm.models import load_tokenizer, model_fingerprint


class GenerationWorker:
    """One model copy on one Ray actor."""

    def __init__(self, spec: BackendSpec):
        self.backend = spec.open()

    def batch_size(self) -> int:
        return int(getattr(self.backend, "batch_size", 0))

    def run(self, requests: list[GenerationRequest], one_batch: bool) -> tuple[list[str], dict]:
        """Texts for ``requests`` (one planned batch, or a share for vLLM) and what they added to the counters."""
        before = replace(self.backend.counters)
        texts = self.backend.generate_batch(requests) if one_batch else self.backend.generate_requests(requests)
        after = self.backend.counters
        return texts, {f.name: getattr(after, f.name) - getattr(before, f.name) for f in fields(after)}


def _resolved_kind(kind: str, cluster_gpus: float) -> str:
    """``auto`` on Ray follows the cluster, not the driver: vLLM when the cluster has GPUs (its workers then need
    the ``gpu`` extra), transformers otherwise; an explicit kind stands (``vllm`` on a cluster without GPUs fails
    on the worker, which says why)."""
    if kind not in ("auto", "vllm", "transformers"):
        raise ValueError(f"unknown backend kind {kind!r}: expected 'auto', 'vllm' or 'transformers'")
    if kind == "auto":
        return "vllm" if cluster_gpus >= 1 else "transformers"
    return kind


class RayGenerationBackend:
    """``generate_requests`` on a pool of Ray actors; ``workers`` actors (None: one per CPU with transformers, one
    per GPU with vLLM), started on first use and stopped by ``close``."""

    def __init__(self, spec: BackendSpec, workers: int | None = None):
        import ray

        resources = ray.cluster_resources()
        self.name = _resolved_kind(spec.kind, resources.get("GPU", 0))
        self.spec = replace(spec, kind=self.name)
        self.model_id = spec.model_id or spec.model_dir.name
        self.fingerprint = model_fingerprint(spec.model_dir)
        self.context_length = native_context_length(spec.model_dir)
        self.tokenizer = load_tokenizer(spec.model_dir)
        gpu = self.name == "vllm"
        self.workers = workers or max(1, int(resources.get("GPU" if gpu else "CPU", 1)))
        self.counters = GenerationCounters()
        self._actor_options = {"num_cpus": 1, "num_gpus": 1 if gpu else 0}
        self._pool = None
        self._batch_size = 0

    def count_tokens(self, text: str) -> int:
        return count_tokens(self.tokenizer, text)

    def generate_requests(self, requests: list[GenerationRequest]) -> list[str]:
        if not requests:
            return []
        pool = self._start()
        if self.name == "transformers":
            lengths = [len(encode_request(self.tokenizer, r)) for r in requests]
            units, one_batch = plan_batches(requests, lengths, self._batch_size), True
        else:
            share = -(-len(requests) // self.workers)
            units, one_batch = [list(range(lo, min(lo + share, len(requests))))
                                for lo in range(0, len(requests), share)], False
        outputs: list[str] = [""] * len(requests)
        start = time.perf_counter()
        results = pool.map(lambda actor, idx: actor.run.remote([requests[i] for i in idx], one_batch), units)
        for idx, (texts, added) in zip(units, results, strict=True):
            for i, text in zip(idx, texts, strict=True):
                outputs[i] = text
            for name in ("calls", "prompts", "prompt_tokens", "new_tokens"):
                setattr(self.counters, name, getattr(self.counters, name) + added[name])
        # the driver's wall time, not the workers' summed seconds: new tokens per second is the pool's throughput
        self.counters.seconds += time.perf_counter() - start
        return outputs

    def _start(self):
        if self._pool is None:
            import ray
            from ray.util import ActorPool

            remote = ray.remote(max_restarts=0, **self._actor_options)(GenerationWorker)
            actors = [remote.remote(self.spec) for _ in range(self.workers)]
            self._batch_size = ray.get(actors[0].batch_size.remote())  # waits for the model to open
            self._pool = ActorPool(actors)
            self._actors = actors
        return self._pool

    def close(self) -> None:
        if self._pool is not None:
            import ray

            for actor in self._actors:
                ray.kill(actor)
            self._pool = None
