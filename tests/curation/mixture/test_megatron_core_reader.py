"""megatron-core's own reader opens every .bin/.idx the mixture writes and parses its blend list,
so the format can never drift from Megatron's (both layouts: per-slice files and the PPL-ordered file)."""

import warnings

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from curation.mixture.curriculum import StageSpec
from curation.mixture.megatron import IndexedDataset as OurReader
from curation.mixture.megatron import read_blend_file
from curation.mixture.spec import MixtureSpec
from curation.mixture.stage import build_mixture
from tests.curation.training.tiny_lm import chinese_texts, english_texts

try:
    with warnings.catch_warnings():  # "Transformer Engine and Apex are not installed": irrelevant to the reader
        warnings.simplefilter("ignore")
        from megatron.core.datasets.indexed_dataset import IndexedDataset as MegatronReader
        from megatron.core.datasets.utils import get_blend_from_list
except Exception as exc:  # noqa: BLE001 - any import failure is a reason to skip, reported
    pytest.skip(f"megatron-core not importable ({type(exc).__name__}: {exc}); pip install -e '.[dev]'",
                allow_module_level=True)


@pytest.fixture(scope="module", params=["ppl_ascending", "random"])
def mixture(request, tiny_tokenizer, tmp_path_factory):
    en, zh = english_texts(8), chinese_texts(20)
    sources = {
        "en": [pa.table({"id": [f"en-{i}" for i in range(8)], "text": en, "category": ["prose"] * 8,
                         "lang": ["en"] * 8, "ppl": [float(i * 7 % 5) for i in range(8)]})],
        "zh": [pa.table({"id": [f"zh-{i}" for i in range(20)], "text": zh, "category": ["reviews"] * 20,
                         "lang": ["zh"] * 20})],
    }
    stage = StageSpec(name="s", ratios={"zh": 2, "en": 8}, ordering=request.param)
    spec = MixtureSpec(weights={}, total_tokens=5000, heldout_max_docs=2)
    out = tmp_path_factory.mktemp(request.param) / "mixture"
    stats = build_mixture(sources, tiny_tokenizer, spec, out, stage=stage)
    texts = {i: t for t in sources.values() for i, t in zip(t[0]["id"].to_pylist(), t[0]["text"].to_pylist())}
    return out, stats, texts


def test_megatron_core_reads_every_written_dataset(mixture, tiny_tokenizer):
    out, stats, texts = mixture
    samples = pq.read_table(out / "samples").to_pandas()
    train = samples[samples.split == "train"]
    assert stats["megatron_prefixes"]
    for name, prefix in stats["megatron_prefixes"].items():
        theirs, ours = MegatronReader(prefix), OurReader(prefix)
        rows = train[train.file == name].sort_values("seq_index")
        assert len(theirs) == len(ours) == len(rows)
        assert np.array_equal(theirs.sequence_lengths, rows.n_tokens.to_numpy())
        assert np.array_equal(theirs.document_indices, ours.document_indices)
        assert theirs[0].dtype == np.dtype(stats["token_dtype"])
        for k in range(0, len(rows), max(1, len(rows) // 5)):
            tokens = theirs[k]
            assert np.array_equal(tokens, ours[k])
            doc = texts[rows.doc_id.iloc[k]]
            decoded = tiny_tokenizer.decode(tokens[tokens != stats["eod_token_id"]].tolist())
            assert doc.startswith(decoded) or decoded == doc  # a cut remainder is a prefix


def test_megatron_blend_parser_accepts_blend_txt(mixture):
    out, stats, _ = mixture
    words = (out / "blend.txt").read_text().split()
    prefixes, weights = get_blend_from_list(words)
    ours = read_blend_file(out / "blend.txt")
    assert prefixes == [str(p) for _, p in ours] == list(stats["megatron_prefixes"].values())
    assert weights == pytest.approx([w for w, _ in ours]) and sum(weights) == pytest.approx(1.0)
    if stats["ordering"] == "ppl_ascending":
        assert len(prefixes) == 1 and prefixes[0].endswith("ordered_text_document")
