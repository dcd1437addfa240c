"""A persistent store of generations, so re-materializing a partition never pays for the same generation twice.

Keyed by sha256 of everything that determines the output: the backend (vLLM and transformers
sample differently), the model's content fingerprint, the template (system + user text), the
full rendered prompt (chunk, carried context, slots) and the sampling parameters. Raw
generations are stored (validation runs again on a hit), so changing validation bounds
needs no regeneration. SQLite in WAL mode lets parallel partitions share one file.
"""

import hashlib
import json
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Self

from curation.lake import Lake

CACHE_DIR = "rewrite_cache"


def generation_key(backend: str, model_fingerprint: str, template_digest: str, prompt: str, params: dict) -> str:
    payload = json.dumps(
        {"backend": backend, "model": model_fingerprint, "template": template_digest, "prompt": prompt,
         "params": params},
        sort_keys=True,
        ensure_ascii=False,
    )
    return hashlib.sha256(payload.encode()).hexdigest()


class GenerationCache:
    def __init__(self, path: Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(self.path, timeout=60)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS generations (key TEXT PRIMARY KEY, output TEXT NOT NULL, "
            "model TEXT, style TEXT, created REAL)"
        )
        self._db.commit()
        self.hits = 0
        self.misses = 0

    @classmethod
    def for_lake(cls, lake: Lake) -> "GenerationCache":
        return cls(lake.state_dir(CACHE_DIR) / "generations.sqlite")

    def get_many(self, keys: list[str]) -> dict[str, str]:
        found: dict[str, str] = {}
        unique = list(dict.fromkeys(keys))
        for lo in range(0, len(unique), 500):  # stay under SQLite's bound-parameter limit
            part = unique[lo : lo + 500]
            marks = ",".join("?" * len(part))
            found.update(self._db.execute(f"SELECT key, output FROM generations WHERE key IN ({marks})", part))
        self.hits += sum(k in found for k in keys)
        self.misses += sum(k not in found for k in keys)
        return found

    def put_many(self, rows: list[tuple[str, str, str, str]]) -> None:
        """Store ``(key, output, model_id, style)`` rows; a key already present keeps its first output."""
        now = time.time()
        self._db.executemany(
            "INSERT OR IGNORE INTO generations (key, output, model, style, created) VALUES (?, ?, ?, ?, ?)",
            [(*row, now) for row in rows],
        )
        self._db.commit()

    def __len__(self) -> int:
        return self._db.execute("SELECT COUNT(*) FROM generations").fetchone()[0]

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


@dataclass
class CachedGeneration:
    outputs: list[str]  # one per request, in order
    hits: int  # requests answered from the cache
    generated: int  # distinct prompts sent to the backend (identical requests are generated once)
    seconds: float  # time inside the backend


def _params(request) -> dict:
    """Sampling, plus the request's own response prefix when it has one: a prefix that restates an earlier
    answer (the second pass of a two-part generation) differs per request, unlike the template's."""
    params = request.sampling.as_dict()
    if request.response_prefix:
        params["response_prefix"] = request.response_prefix
    return params


def generate_cached(backend, cache: GenerationCache, requests: list, digests: list[str], labels: list[str]
                    ) -> CachedGeneration:
    """Answer ``requests`` (``GenerationRequest``s) from the cache where it can and with one batched backend
    call for the rest, storing every new generation before returning. ``digests``: each request's template
    digest (part of the key); ``labels``: what the cache row records as its style/step."""
    keys = [generation_key(backend.name, backend.fingerprint, digest, req.prompt, _params(req))
            for req, digest in zip(requests, digests, strict=True)]
    found = cache.get_many(keys)
    hits = sum(k in found for k in keys)
    todo = {key: req for key, req in zip(keys, requests, strict=True) if key not in found}
    seconds = 0.0
    if todo:
        start = time.perf_counter()
        outputs = backend.generate_requests(list(todo.values()))
        seconds = time.perf_counter() - start
        label_of = dict(zip(keys, labels, strict=True))
        cache.put_many([(key, out, backend.model_id, label_of[key]) for key, out in zip(todo, outputs, strict=True)])
        found.update(zip(todo, outputs, strict=True))
    return CachedGeneration([found[k] for k in keys], hits, len(todo), seconds)
