"""Megatron-LM indexed datasets (``.bin`` tokens + ``.idx`` index, "MMIDIDX" version 1), written and read.

Layout, as in Megatron-LM ``megatron/core/datasets/indexed_dataset.py`` (``_IndexWriter``):

    .idx  b"MMIDIDX\\x00\\x00" | version u64 = 1 | dtype code u8 | sequence count u64 | document count u64
          | sequence lengths int32[seq] | sequence byte pointers int64[seq] | document indices int64[doc]
    .bin  every sequence's tokens, back to back, in the dtype named by the code

All integers little-endian. ``document indices`` starts at 0 and holds, after each document, the
number of sequences written so far (so it has documents + 1 entries). Here a document is one
sequence, as ``tools/preprocess_data.py`` writes it without sentence splitting.
"""

import os
import struct
from pathlib import Path
from typing import Self

import numpy as np

INDEX_HEADER = b"MMIDIDX\x00\x00"
INDEX_VERSION = 1
# Megatron's DType enum codes
DTYPE_CODES = {
    np.dtype(np.uint8): 1,
    np.dtype(np.int8): 2,
    np.dtype(np.int16): 3,
    np.dtype(np.int32): 4,
    np.dtype(np.int64): 5,
    np.dtype(np.float64): 6,
    np.dtype(np.float32): 7,
    np.dtype(np.uint16): 8,
}
CODE_DTYPES = {code: dtype for dtype, code in DTYPE_CODES.items()}


class IndexedDatasetError(ValueError):
    """A ``.bin``/``.idx`` pair that is missing, truncated or not MMIDIDX version 1."""


def dtype_for_vocab(vocab_size: int) -> np.dtype:
    """Megatron's ``DType.optimal_dtype``: uint16 below 65500 token ids, else int32."""
    return np.dtype(np.uint16) if vocab_size < 65500 else np.dtype(np.int32)


def bin_path(prefix: str | Path) -> Path:
    return Path(f"{prefix}.bin")


def idx_path(prefix: str | Path) -> Path:
    return Path(f"{prefix}.idx")


class IndexedDatasetWriter:
    """Streams documents into ``<prefix>.bin``; ``finalize`` writes ``<prefix>.idx``.

    Holds only the per-sequence lengths in memory (4 bytes a document), like Megatron's builder.
    """

    def __init__(self, prefix: str | Path, dtype: np.dtype):
        self.prefix = Path(prefix)
        self.dtype = np.dtype(dtype)
        if self.dtype not in DTYPE_CODES:
            raise IndexedDatasetError(f"dtype {self.dtype} has no Megatron code")
        self.prefix.parent.mkdir(parents=True, exist_ok=True)
        self._bin = open(bin_path(self.prefix), "wb")  # noqa: SIM115 - open across add_document calls
        self._lengths: list[int] = []
        self._max_token = np.iinfo(self.dtype).max if self.dtype.kind in "iu" else None
        self.num_tokens = 0

    def add_document(self, tokens) -> None:
        array = np.asarray(tokens)
        if array.ndim != 1:
            raise IndexedDatasetError(f"a document must be a 1-d token array, got shape {array.shape}")
        if array.size and self._max_token is not None and (array.min() < 0 or array.max() > self._max_token):
            raise IndexedDatasetError(f"token id out of range for {self.dtype}: [{array.min()}, {array.max()}]")
        self._bin.write(array.astype(self.dtype, copy=False).tobytes(order="C"))
        self._lengths.append(int(array.size))
        self.num_tokens += int(array.size)

    def __len__(self) -> int:
        return len(self._lengths)

    def finalize(self) -> Path:
        self._bin.close()
        lengths = np.asarray(self._lengths, dtype=np.int32)
        pointers = np.zeros(len(lengths), dtype=np.int64)
        if len(lengths):
            pointers[1:] = np.cumsum(lengths[:-1], dtype=np.int64) * self.dtype.itemsize
        document_indices = np.arange(len(lengths) + 1, dtype=np.int64)
        with open(idx_path(self.prefix), "wb") as f:
            f.write(INDEX_HEADER)
            f.write(struct.pack("<Q", INDEX_VERSION))
            f.write(struct.pack("<B", DTYPE_CODES[self.dtype]))
            f.write(struct.pack("<Q", len(lengths)))
            f.write(struct.pack("<Q", len(document_indices)))
            f.write(lengths.astype("<i4").tobytes())
            f.write(pointers.astype("<i8").tobytes())
            f.write(document_indices.astype("<i8").tobytes())
        return self.prefix

    def abort(self) -> None:
        self._bin.close()
        bin_path(self.prefix).unlink(missing_ok=True)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.finalize()
        else:
            self.abort()


class IndexedDataset:
    """Memory-mapped reader of a ``.bin``/``.idx`` pair; ``ds[i]`` is sequence ``i``'s tokens."""

    def __init__(self, prefix: str | Path):
        self.prefix = Path(prefix)
        for path in (idx_path(self.prefix), bin_path(self.prefix)):
            if not path.is_file():
                raise IndexedDatasetError(f"indexed dataset file missing: {path}")
        with open(idx_path(self.prefix), "rb") as f:
            header = f.read(len(INDEX_HEADER))
            if header != INDEX_HEADER:
                raise IndexedDatasetError(f"{idx_path(self.prefix)}: bad magic {header!r}, not an MMIDIDX index")
            (version,) = struct.unpack("<Q", f.read(8))
            if version != INDEX_VERSION:
                raise IndexedDatasetError(f"{idx_path(self.prefix)}: index version {version}, expected 1")
            (code,) = struct.unpack("<B", f.read(1))
            if code not in CODE_DTYPES:
                raise IndexedDatasetError(f"{idx_path(self.prefix)}: unknown dtype code {code}")
            self.dtype = CODE_DTYPES[code]
            sequence_count, document_count = struct.unpack("<QQ", f.read(16))
            offset = f.tell()
        expected = offset + sequence_count * (4 + 8) + document_count * 8
        actual = os.path.getsize(idx_path(self.prefix))
        if actual < expected:
            raise IndexedDatasetError(f"{idx_path(self.prefix)}: truncated ({actual} bytes, expected {expected})")
        index = np.memmap(idx_path(self.prefix), mode="r", dtype=np.uint8)
        self.sequence_lengths = np.frombuffer(index, dtype="<i4", count=sequence_count, offset=offset)
        offset += self.sequence_lengths.nbytes
        self.sequence_pointers = np.frombuffer(index, dtype="<i8", count=sequence_count, offset=offset)
        offset += self.sequence_pointers.nbytes
        self.document_indices = np.frombuffer(index, dtype="<i8", count=document_count, offset=offset)
        bin_size = os.path.getsize(bin_path(self.prefix))
        self.num_tokens = int(self.sequence_lengths.sum(dtype=np.int64))
        if bin_size != self.num_tokens * self.dtype.itemsize:
            raise IndexedDatasetError(
                f"{bin_path(self.prefix)}: {bin_size} bytes but the index describes {self.num_tokens} tokens"
            )
        # np.memmap refuses empty files; an empty dataset has nothing to map
        self._tokens = np.memmap(bin_path(self.prefix), mode="r", dtype=self.dtype) if bin_size else None

    def __len__(self) -> int:
        return len(self.sequence_lengths)

    def __getitem__(self, i: int) -> np.ndarray:
        start = int(self.sequence_pointers[i]) // self.dtype.itemsize
        return self._tokens[start : start + int(self.sequence_lengths[i])]

    def tokens(self, start: int, stop: int) -> np.ndarray:
        """Tokens ``[start, stop)`` of the whole ``.bin`` as one flat stream."""
        if self._tokens is None:
            return np.empty(0, dtype=self.dtype)
        return self._tokens[start:stop]

    @property
    def num_documents(self) -> int:
        return max(len(self.document_indices) - 1, 0)


def write_blend_file(path: Path, entries: list[tuple[float, str | Path]]) -> Path:
    """``weight path_prefix`` pairs, one per line: the operand of Megatron's ``--data-path``
    (``--data-path $(cat blend.txt)``) and of FlagScale's ``data_path`` list."""
    lines = [f"{weight:.10g} {prefix}" for weight, prefix in entries]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def read_blend_file(path: Path) -> list[tuple[float, Path]]:
    """The pairs of a blend list; a relative prefix is taken relative to the list's folder."""
    path = Path(path)
    tokens = path.read_text(encoding="utf-8").split()
    if len(tokens) % 2:
        raise IndexedDatasetError(f"{path}: a blend list is 'weight prefix' pairs, got an odd token count")
    return [(float(tokens[i]), path.parent / tokens[i + 1]) for i in range(0, len(tokens), 2)]
