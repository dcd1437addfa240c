"""The bundled sample corpus: real text that ships with installed packages, as landing shards.

``python -m curation.sample_corpus --home DIR`` writes ``DIR/landing/<category>/sample-NNNNN.<fmt>``.
"""

from curation.sample_corpus.build import build_sample_corpus, main

__all__ = ["build_sample_corpus", "main"]
