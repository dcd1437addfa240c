"""Fixed-length training blocks cut from a stream of documents (each already ending in EOS).

Documents are shuffled once by the seed, laid end to end, and cut into blocks of ``seq_len + 1``
tokens (inputs and next-token targets), consecutive blocks sharing one boundary token: the
packing of Megatron's GPTDataset and nanoGPT. Which blocks a micro-step gets is a pure function of
(seed, micro-step), so a resumed run continues the data order instead of repeating it.
Memory: three integers a document; tokens stay memory-mapped on disk.
"""

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from curation.mixture.megatron import IndexedDataset, read_blend_file


class NotEnoughTokensError(ValueError):
    """Training data shorter than one block."""


def open_training_data(train_data) -> list:
    """Accept a blend list (``blend.txt``), a Megatron prefix, an IndexedDataset, or a list of
    datasets / token arrays (each array one document) and return a list of document sources."""
    if isinstance(train_data, str | Path):
        path = Path(train_data)
        if path.suffix == ".txt" and path.is_file():
            # category sizes already realise the mixture weights, so every block is drawn uniformly
            return [IndexedDataset(prefix) for _, prefix in read_blend_file(path)]
        return [IndexedDataset(path)]
    if isinstance(train_data, IndexedDataset):
        return [train_data]
    items = list(train_data)
    if items and all(isinstance(item, np.ndarray) and item.ndim == 1 for item in items):
        return [items]
    return [item if isinstance(item, IndexedDataset) else list(item) for item in items]


class PackedBlocks:
    """``shuffle=False`` keeps the documents and blocks in file order (a curriculum stage ordered by
    perplexity): block k of the stream is trained at micro-batch row k, epoch after epoch."""

    def __init__(self, sources: Sequence, seq_len: int, seed: int, shuffle: bool = True):
        self.sources = list(sources)
        self.seq_len = seq_len
        self.seed = seed
        self.shuffle = shuffle
        source_of, index_in, lengths = [], [], []
        for s, source in enumerate(self.sources):
            n = len(source)
            source_of.append(np.full(n, s, dtype=np.int32))
            index_in.append(np.arange(n, dtype=np.int64))
            sizes = source.sequence_lengths if isinstance(source, IndexedDataset) else [len(d) for d in source]
            lengths.append(np.asarray(sizes, dtype=np.int64))
        count = sum(len(x) for x in lengths)
        order = np.random.default_rng(seed).permutation(count) if shuffle else np.arange(count)
        self._source = np.concatenate(source_of or [np.empty(0, np.int32)])[order]
        self._index = np.concatenate(index_in or [np.empty(0, np.int64)])[order]
        lengths_in_order = np.concatenate(lengths or [np.empty(0, np.int64)])[order]
        self._starts = np.concatenate([[0], np.cumsum(lengths_in_order)])
        self.num_tokens = int(self._starts[-1])
        self.num_blocks = (self.num_tokens - 1) // seq_len if self.num_tokens else 0
        self._epoch, self._order = -1, np.empty(0, np.int64)
        if self.num_blocks < 1:
            raise NotEnoughTokensError(
                f"training data has {self.num_tokens} tokens, fewer than one block of seq_len + 1 = {seq_len + 1}"
            )

    def block(self, b: int) -> np.ndarray:
        """Tokens ``[b * seq_len, (b + 1) * seq_len + 1)`` of the shuffled stream."""
        start, stop = b * self.seq_len, (b + 1) * self.seq_len + 1
        doc = int(np.searchsorted(self._starts, start, side="right")) - 1
        pieces = []
        while start < stop:
            doc_start, doc_stop = int(self._starts[doc]), int(self._starts[doc + 1])
            tokens = self.sources[self._source[doc]][int(self._index[doc])]
            pieces.append(np.asarray(tokens[start - doc_start : min(stop, doc_stop) - doc_start], dtype=np.int64))
            start = min(stop, doc_stop)
            doc += 1
        return np.concatenate(pieces)

    def micro_batch(self, micro_step: int, batch_size: int) -> np.ndarray:
        """``batch_size`` blocks of shape ``(batch_size, seq_len + 1)`` for global micro-step ``micro_step``;
        each epoch over the blocks is a fresh seeded permutation."""
        rows = []
        for k in range(micro_step * batch_size, (micro_step + 1) * batch_size):
            epoch, position = divmod(k, self.num_blocks)
            rows.append(self.block(int(self._permutation(epoch)[position])))
        return np.stack(rows)

    def _permutation(self, epoch: int) -> np.ndarray:
        if self._epoch != epoch:  # one permutation in memory at a time
            self._epoch = epoch
            self._order = (np.random.default_rng((self.seed, epoch)).permutation(self.num_blocks) if self.shuffle
                           else np.arange(self.num_blocks))
        return self._order
