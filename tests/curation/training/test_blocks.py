import numpy as np
import pytest

from curation.mixture.megatron import IndexedDataset, IndexedDatasetWriter
from curation.training.blocks import NotEnoughTokensError, PackedBlocks, open_training_data


def test_blocks_tile_the_shuffled_document_stream(tmp_path):
    docs = [np.arange(start, start + n) for start, n in [(0, 7), (100, 3), (200, 11), (300, 5)]]
    with IndexedDatasetWriter(tmp_path / "a", np.uint16) as w:
        for d in docs[:2]:
            w.add_document(d)
    sources = open_training_data([IndexedDataset(tmp_path / "a"), docs[2:]])
    blocks = PackedBlocks(sources, seq_len=4, seed=0)
    assert blocks.num_tokens == 26 and blocks.num_blocks == 6
    # consecutive blocks share their boundary token: targets continue the inputs
    assert all(blocks.block(b)[-1] == blocks.block(b + 1)[0] for b in range(blocks.num_blocks - 1))
    # every document's tokens appear contiguously, in order
    flat = np.concatenate([blocks.block(0)] + [blocks.block(b)[1:] for b in range(1, blocks.num_blocks)])
    all_tokens = set(np.concatenate(docs).tolist())  # distinct, so position checks are exact
    assert len(flat) == 25 and len(set(flat.tolist())) == 25 and set(flat.tolist()) <= all_tokens
    for d in docs:
        hits = np.flatnonzero(flat == d[0])
        if hits.size and hits[0] + len(d) <= len(flat):
            assert flat[hits[0] : hits[0] + len(d)].tolist() == d.tolist()


def test_micro_batches_are_a_pure_function_of_the_step():
    docs = [np.arange(i * 50, i * 50 + 40) for i in range(10)]
    a = PackedBlocks(open_training_data(docs), seq_len=8, seed=3)
    b = PackedBlocks(open_training_data(docs), seq_len=8, seed=3)
    assert np.array_equal(a.micro_batch(5, 4), b.micro_batch(5, 4))
    assert a.micro_batch(5, 4).shape == (4, 9)
    seen = {tuple(a.micro_batch(s, 7)[i]) for s in range(7) for i in range(7)}
    assert len(seen) == a.num_blocks  # 49 = one epoch over all blocks, no block twice


def test_too_little_data_is_a_clear_error():
    with pytest.raises(NotEnoughTokensError, match="fewer than one block"):
        PackedBlocks(open_training_data([np.arange(5)]), seq_len=8, seed=0)


def test_unshuffled_blocks_follow_file_order():
    docs = [np.arange(10 * i, 10 * i + 10, dtype=np.int64) for i in range(5)]  # 50 tokens in order
    blocks = PackedBlocks([docs], seq_len=4, seed=3, shuffle=False)
    batch = blocks.micro_batch(0, 3)
    assert batch[:, 0].tolist() == [0, 4, 8] and batch[0].tolist() == [0, 1, 2, 3, 4]
    shuffled = PackedBlocks([docs], seq_len=4, seed=3)
    assert shuffled.micro_batch(0, 3)[:, 0].tolist() != [0, 4, 8]
