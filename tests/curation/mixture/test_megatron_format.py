import struct

import numpy as np
import pytest

from curation.mixture.megatron import (
    IndexedDataset,
    IndexedDatasetError,
    IndexedDatasetWriter,
    dtype_for_vocab,
    read_blend_file,
    write_blend_file,
)

DOCS = [[5, 6, 7], [65000], [1, 2, 3, 4, 5]]


def expected_idx_bytes(lengths: list[int], itemsize: int, code: int) -> bytes:
    """The .idx layout spelled out from Megatron-LM's _IndexWriter, field by field."""
    pointers = np.concatenate([[0], np.cumsum(lengths)[:-1]]) * itemsize
    return (
        b"MMIDIDX\x00\x00"
        + struct.pack("<Q", 1)
        + struct.pack("<B", code)
        + struct.pack("<Q", len(lengths))
        + struct.pack("<Q", len(lengths) + 1)
        + struct.pack(f"<{len(lengths)}i", *lengths)
        + struct.pack(f"<{len(lengths)}q", *pointers)
        + struct.pack(f"<{len(lengths) + 1}q", *range(len(lengths) + 1))
    )


@pytest.mark.parametrize(("vocab", "code", "fmt"), [(49152, 8, "H"), (151_936, 4, "i")])
def test_written_files_match_the_megatron_layout_byte_for_byte(tmp_path, vocab, code, fmt):
    prefix = tmp_path / "cat_text_document"
    with IndexedDatasetWriter(prefix, dtype_for_vocab(vocab)) as writer:
        for doc in DOCS:
            writer.add_document(doc)
    itemsize = struct.calcsize(fmt)
    lengths = [len(d) for d in DOCS]
    assert (tmp_path / "cat_text_document.idx").read_bytes() == expected_idx_bytes(lengths, itemsize, code)
    flat = [t for d in DOCS for t in d]
    assert (tmp_path / "cat_text_document.bin").read_bytes() == struct.pack(f"<{len(flat)}{fmt}", *flat)

    ds = IndexedDataset(prefix)
    assert len(ds) == 3 and ds.num_documents == 3 and ds.num_tokens == 9
    assert [ds[i].tolist() for i in range(3)] == DOCS
    assert ds.tokens(2, 5).tolist() == [7, 65000, 1]


def test_token_ids_that_do_not_fit_the_dtype_are_refused(tmp_path):
    with pytest.raises(IndexedDatasetError, match="out of range"), IndexedDatasetWriter(tmp_path / "x", np.uint16) as w:
        w.add_document([70000])


def test_reader_refuses_foreign_or_truncated_files(tmp_path):
    with IndexedDatasetWriter(tmp_path / "ok", np.uint16) as writer:
        writer.add_document([1, 2, 3])
    idx = (tmp_path / "ok.idx").read_bytes()
    (tmp_path / "bad.bin").write_bytes((tmp_path / "ok.bin").read_bytes())
    (tmp_path / "bad.idx").write_bytes(b"TNTIDX\x00\x00" + idx[8:])
    with pytest.raises(IndexedDatasetError, match="bad magic"):
        IndexedDataset(tmp_path / "bad")
    (tmp_path / "bad.idx").write_bytes(idx[:-8])
    with pytest.raises(IndexedDatasetError, match="truncated"):
        IndexedDataset(tmp_path / "bad")
    (tmp_path / "bad.idx").write_bytes(idx)
    (tmp_path / "bad.bin").write_bytes(b"\x00\x00")
    with pytest.raises(IndexedDatasetError, match="describes 3 tokens"):
        IndexedDataset(tmp_path / "bad")
    with pytest.raises(IndexedDatasetError, match="missing"):
        IndexedDataset(tmp_path / "absent")


def test_blend_list_round_trips(tmp_path):
    path = write_blend_file(tmp_path / "blend.txt", [(0.75, tmp_path / "a_text_document"), (0.25, "b_text_document")])
    assert path.read_text().split() == ["0.75", str(tmp_path / "a_text_document"), "0.25", "b_text_document"]
    assert read_blend_file(path) == [(0.75, tmp_path / "a_text_document"), (0.25, tmp_path / "b_text_document")]
