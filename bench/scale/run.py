"""Scale benchmark: ingest, dedup and scoring (rules + language ID) at 10k and 100k documents (1M with
``--sizes 10000 100000 1000000``), on the local engine and on a local Ray, on this machine.

    PYTHONPATH=. .venv/bin/python bench/scale/run.py                # 10k and 100k, local and ray
    PYTHONPATH=. .venv/bin/python bench/scale/run.py --sizes 10000 --engines local
    PYTHONPATH=. .venv/bin/python bench/scale/run.py --sizes 10000 100000 1000000 --work /tmp/cf-scale

Corpus: the whole bundled sample corpus (real text: Python docs and code, People's Daily, reviews, CHAMP
math; curation/sample_corpus), ingested once; a corpus of N documents cycles through it, and every pass after
the first gives each document realistic edits (sentences dropped and swapped, ~12 % of its words or characters
replaced from other documents, a sentence from another document appended), so most documents are distinct
(estimated 5-gram Jaccard ~0.4 against their source); 3 % of the documents are lightly edited copies (near
duplicates) and 2 % verbatim copies, so dedup has real work. The categories keep the sample corpus's mix.

Per stage and size: wall time, CPU time of the whole process tree (driver, Ray's raylet, GCS and workers, via
psutil), documents per CPU-second ("per core"), input MB per CPU-second, and peak RSS of the driver and of the
process tree, sampled every 0.2 s. Scoring runs rules and language ID only (the perplexity and classifier models
are trained per corpus by the graph; they are not part of this benchmark). Writes bench/results/scale.md and
bench/results/scale.json after every (size, engine) run, so a long run that is stopped keeps what finished; each
size's landing is written once and hard-linked into every engine's lake. The targets (issue 13): peak driver RSS
within 1.5x from 100k to the largest size, documents per CPU-second within 20 % from the smallest to the largest.
"""

import argparse
import json
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil
import pyarrow.parquet as pq

from curation.compute import ComputeConfig, LocalEngine, ParquetFiles, RayEngine
from curation.dedup import DedupConfig, dedup_partition
from curation.document import DOC_SCHEMA, DROP_SCHEMA
from curation.ingest import ingest_category
from curation.lake import Lake, PartitionWriter
from curation.sample_corpus import build_sample_corpus
from curation.scoring import ScoringModels, load_scoring_config, score_partition, scored_schema

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "bench" / "results"
SHARD_DOCS = 5000
SEED_001_BYTES = 10e12  # seed 001: a 10 TB bilingual corpus
RSS_TARGET = 1.5  # issue 13: peak RSS flat within 1.5x from 100k to 1M documents
PER_CORE_TARGET = 0.20  # issue 13: documents per CPU-second within 20 % from 10k to 1M


class Sampler:
    """Peak RSS of this process and of its whole process tree while a stage runs, plus tree CPU seconds."""

    def __init__(self):
        self.me = psutil.Process()
        self.stop = threading.Event()
        self.peak_self = self.peak_tree = self.peak_private = 0

    def tree(self):
        procs = [self.me]
        try:
            procs += self.me.children(recursive=True)
        except psutil.Error:
            pass
        return procs

    def cpu(self) -> float:
        total = 0.0
        for p in self.tree():
            try:
                t = p.cpu_times()
                total += t.user + t.system
            except psutil.Error:
                pass
        return total

    def _loop(self):
        while not self.stop.is_set():
            rss_tree = 0
            for p in self.tree():
                try:
                    rss_tree += p.memory_info().rss
                except psutil.Error:
                    pass
            mine = self.me.memory_info()
            self.peak_self = max(self.peak_self, mine.rss)
            # shared pages (Ray's object store is mapped into the driver as it reads blocks) are bounded by
            # the store's size, not the corpus: RSS minus them is what the driver itself holds
            self.peak_private = max(self.peak_private, mine.rss - mine.shared)
            self.peak_tree = max(self.peak_tree, rss_tree)
            self.stop.wait(0.2)

    def __enter__(self):
        self.cpu0, self.t0 = self.cpu(), time.perf_counter()
        self.thread = threading.Thread(target=self._loop, daemon=True)
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.wall = time.perf_counter() - self.t0
        self.cpu_s = self.cpu() - self.cpu0  # Ray workers that exited meanwhile are missed (they stay up here)
        self.stop.set()
        self.thread.join()


# ---------------------------------------------------------------------------------------------- corpus

_SENTENCE = re.compile(r"(?<=[.!?。！？])\s*")


def base_documents(work: Path) -> list[tuple[str, str]]:
    """(category, text) of the whole sample corpus, ingested once (so unreadable records are already out)."""
    lake = Lake(work / "base")
    summary = build_sample_corpus(lake.landing, max_docs_per_category=None)
    docs = []
    for category in sorted(c for c, info in summary["categories"].items() if info["docs"]):
        ingest_category(lake, category)
        for batch in lake.iter_batches("raw", category, columns=["text"]):
            docs += [(category, t) for t in batch.column("text").to_pylist()]
    random.Random(1).shuffle(docs)  # every size gets the corpus's category mix
    return docs


def _tokens(text: str) -> tuple[list[str], str]:
    words = text.split(" ")
    return (words, " ") if len(words) >= 8 else (list(text), "")


def distinct_variant(text: str, donor: str, rng: random.Random) -> str:
    """A realistic rewrite of ``text``: its sentences dropped and swapped, ~12 % of tokens replaced by tokens of
    ``donor``, a donor sentence appended. Keeps the language and the kind of text."""
    sentences = [s for s in _SENTENCE.split(text) if s]
    if len(sentences) > 3:
        sentences.pop(rng.randrange(len(sentences)))
        i = rng.randrange(len(sentences) - 1)
        sentences[i], sentences[i + 1] = sentences[i + 1], sentences[i]
    tokens, sep = _tokens(" ".join(sentences) if " " in text else "".join(sentences))
    donor_tokens, _ = _tokens(donor)
    for _ in range(max(1, len(tokens) * 12 // 100)):
        tokens[rng.randrange(len(tokens))] = rng.choice(donor_tokens)
    donor_sentences = [s for s in _SENTENCE.split(donor) if s] or [donor[:200]]
    return sep.join(tokens) + sep + rng.choice(donor_sentences)


def near_copy(text: str, rng: random.Random) -> str:
    tokens, sep = _tokens(text)
    tokens[rng.randrange(len(tokens))] = "updated"
    return sep.join(tokens) + " (mirror)"


def write_landing(home: Path, base: list[tuple[str, str]], n: int, seed: int = 0) -> dict:
    """N documents into landing/<category>/part-NNNN.jsonl, SHARD_DOCS per shard."""
    rng = random.Random(seed)
    by_cat: dict[str, list[str]] = {}
    kinds = {"original": 0, "distinct_variant": 0, "near_copy": 0, "exact_copy": 0}
    for k in range(n):
        category, text = base[k % len(base)]
        if k < len(base):
            kind = "original"
        else:
            roll = rng.random()
            kind = "exact_copy" if roll < 0.02 else "near_copy" if roll < 0.05 else "distinct_variant"
        if kind == "near_copy":
            text = near_copy(text, rng)
        elif kind == "distinct_variant":
            text = distinct_variant(text, base[rng.randrange(len(base))][1], rng)
        kinds[kind] += 1
        by_cat.setdefault(category, []).append(json.dumps({"id": f"{category}-{k}", "text": text},
                                                          ensure_ascii=False))
    total_bytes = 0
    for category, lines in by_cat.items():
        folder = home / "landing" / category
        folder.mkdir(parents=True, exist_ok=True)
        for i in range(0, len(lines), SHARD_DOCS):
            data = ("\n".join(lines[i:i + SHARD_DOCS]) + "\n").encode("utf-8")
            (folder / f"part-{i // SHARD_DOCS:04d}.jsonl").write_bytes(data)
            total_bytes += len(data)
    return {"docs": n, "categories": {c: len(v) for c, v in by_cat.items()}, "kinds": kinds, "bytes": total_bytes}


# ---------------------------------------------------------------------------------------------- stages

STAGES = ("ingest", "dedup", "scoring")


def run_stage(home: Path, stage: str, engine_name: str, band_partitions: int) -> dict:
    """One stage over every category, in this (fresh) process: its peak RSS is the stage's own."""
    lake = Lake(home)
    categories = lake.landing_categories()
    t = time.perf_counter()
    if engine_name == "ray":
        engine = RayEngine(ComputeConfig(engine="ray", object_store_memory_mb=512)).start()
    else:
        engine, band_partitions = LocalEngine(), 1
    start_s = time.perf_counter() - t
    extra: dict = {}

    def ingest():
        results = [ingest_category(lake, c, engine=engine) for c in categories]
        return sum(r.docs_total for r in results), sum(r.bytes_total for r in results)

    def dedup():
        docs = size = removed = 0
        for c in categories:
            with PartitionWriter(lake.stage_dir("deduped", c), DOC_SCHEMA) as kept, \
                    PartitionWriter(lake.drops_dir("deduped", c), DROP_SCHEMA) as drops:
                stats = dedup_partition(ParquetFiles.of(lake.files("raw", c)), c, lake, DedupConfig(), kept, drops,
                                        engine=engine, band_partitions=band_partitions)
            docs, size, removed = docs + stats["docs_in"], size + stats["bytes_in"], removed + stats["docs_in"] - \
                stats["docs_out"]
        extra["dedup_removed"] = removed
        return docs, size

    def scoring():
        scoring_config = load_scoring_config(ROOT / "configs" / "scoring.yaml")
        docs = size = 0
        for c in categories:
            schema = scored_schema(lake.read_schema("deduped", c))
            with PartitionWriter(lake.stage_dir("scored", c), schema) as kept, \
                    PartitionWriter(lake.drops_dir("scored", c), DROP_SCHEMA) as drops:
                stats = score_partition(ParquetFiles.of(lake.files("deduped", c)), c, scoring_config, ScoringModels(),
                                        kept, drops, engine=engine)
            docs, size = docs + stats["docs_in"], size + stats["bytes_in"]
        return docs, size

    try:
        with Sampler() as s:
            docs_in, bytes_in = {"ingest": ingest, "dedup": dedup, "scoring": scoring}[stage]()
    finally:
        engine.close()
    return {"wall_s": s.wall, "cpu_s": s.cpu_s, "docs_in": docs_in, "mb_in": bytes_in / 1e6, "engine_start_s": start_s,
            "peak_rss_driver_mb": s.peak_self / 2**20, "peak_private_driver_mb": s.peak_private / 2**20,
            "peak_rss_tree_mb": s.peak_tree / 2**20, **extra}


def run_pipeline(home: Path, engine_name: str, band_partitions: int) -> dict:
    """The three stages, each in a fresh Python process (so one stage's memory does not count for the next)."""
    out: dict = {}
    for stage in STAGES:
        proc = subprocess.run([sys.executable, __file__, "--stage-run", str(home), stage, engine_name,
                               str(band_partitions)], capture_output=True, text=True, check=False,
                              env={**os.environ, "PYTHONPATH": str(ROOT)})
        if proc.returncode != 0:
            raise RuntimeError(f"{stage} on {engine_name} failed:\n{proc.stderr[-3000:]}")
        out[stage] = json.loads(proc.stdout.strip().splitlines()[-1])
    out["dedup_removed"] = out["dedup"].pop("dedup_removed", 0)
    out["ray_start_s"] = sum(out[s]["engine_start_s"] for s in STAGES) / len(STAGES)
    lake = Lake(home)
    out["fingerprint"] = {stage: sorted((c, lake.count(stage, c)) for c in lake.stage_categories(stage))
                          for stage in ("raw", "deduped", "scored")}
    out["scored_ids_digest"] = _ids_digest(lake)
    return out


def _ids_digest(lake: Lake) -> str:
    import hashlib

    h = hashlib.sha256()
    for c in lake.stage_categories("scored"):
        for f in lake.files("scored", c):  # id after id: how the rows are cut into files does not count
            for doc_id in pq.read_table(f, columns=["id"]).column("id").to_pylist():
                h.update(f"{doc_id}\n".encode())
    return h.hexdigest()[:16]


# ---------------------------------------------------------------------------------------------- report

def per_core(row: dict) -> float:
    return row["docs_in"] / row["cpu_s"] if row["cpu_s"] > 0 else float("nan")


def _private(row: dict) -> str:
    value = row.get("peak_private_driver_mb")  # runs measured before the column existed lack it
    return "-" if value is None else f"{value:,.0f}"


def markdown(report: dict) -> str:
    lines = ["# Scale benchmark (bench/scale/run.py)", "",
             f"Machine: {report['machine']}. Corpus: {report['corpus_note']}", "",
             ("| docs | engine | stage | wall s | CPU s | docs/s | docs/s per core | MB/s per core | peak RSS driver MB "
             "| peak private driver MB | peak RSS tree MB |"), "|---|---|---|---|---|---|---|---|---|---|---|"]
    for run in report["runs"]:
        for stage in ("ingest", "dedup", "scoring"):
            r = run[stage]
            lines.append(f"| {run['docs']:,} | {run['engine']} | {stage} | {r['wall_s']:.1f} | {r['cpu_s']:.1f} | "
                         f"{r['docs_in'] / r['wall_s']:,.0f} | {per_core(r):,.0f} | "
                         f"{r['mb_in'] / r['cpu_s'] if r['cpu_s'] else 0:.2f} | {r['peak_rss_driver_mb']:,.0f} | "
                         f"{_private(r)} | {r['peak_rss_tree_mb']:,.0f} |")
    lines += [""] + [f"- {run['docs']:,} docs ({run['engine']}): {run['corpus']['bytes'] / 1e6:,.0f} MB of JSONL; "
                     + ", ".join(f"{k} {v:,}" for k, v in run["corpus"]["kinds"].items())
                     + f"; dedup removed {run.get('dedup_removed', 0):,}"
                     for run in report["runs"] if run["engine"] == report["runs"][0]["engine"]]
    if any("measured_at" in run for run in report["runs"]):
        lines += ["- measured: " + "; ".join(f"{run['docs']:,} {run['engine']} {run.get('measured_at', 'earlier')}"
                                             for run in report["runs"])]
    lines += ["", ("CPU s: user + system seconds of the whole process tree during the stage (Ray's raylet, GCS and "
              "workers included with `ray`). Per core = documents (or input MB) per CPU-second. Peak RSS tree sums "
              "the RSS of every process of the tree (shared pages, e.g. Ray's object store, are counted in each "
              "process that maps them, so it overstates). Peak private driver = the driver's RSS minus its shared pages "
              "(with `ray`, the object store's blocks it has read, bounded by the store's size), sampled at the same "
              "instants; '-' for runs measured before it was recorded."), ""]
    lines += ["## Ray on one machine", ""]
    for note in report["ray_notes"]:
        lines.append(f"- {note}")
    lines += ["", "## Scaling (per core and peak driver RSS, per engine)", ""]
    for note in report["scaling_notes"]:
        lines.append(f"- {note}")
    lines += ["", ("## Extrapolation to seed 001's 10 TB (an extrapolation from the per-core figures above, not a "
              "measurement)"), ""]
    lines += report["extrapolation"]
    return "\n".join(lines) + "\n"


def analyse(report: dict) -> None:
    runs = {(r["docs"], r["engine"]): r for r in report["runs"]}
    sizes = sorted({d for d, _ in runs})
    notes = []
    for d in sizes:
        if (d, "local") in runs and (d, "ray") in runs:
            lo, ra = runs[(d, "local")], runs[(d, "ray")]
            wall_lo = sum(lo[s]["wall_s"] for s in ("ingest", "dedup", "scoring"))
            wall_ra = sum(ra[s]["wall_s"] for s in ("ingest", "dedup", "scoring"))
            same = lo["fingerprint"] == ra["fingerprint"] and lo["scored_ids_digest"] == ra["scored_ids_digest"]
            notes.append(f"{d:,} docs: ray {wall_ra:.1f} s vs local {wall_lo:.1f} s for the three stages "
                         f"({wall_ra / wall_lo:.2f}×; Ray start, {ra['ray_start_s']:.1f} s a stage, not counted); "
                         f"outputs identical (row counts per stage and category, scored ids): {'yes' if same else 'NO'}")
    report["ray_notes"] = notes or ["(no size ran on both engines)"]
    scaling = []
    local_sizes = [d for d in sizes if (d, "local") in runs]
    for engine in ("local", "ray"):
        have = [d for d in sizes if (d, engine) in runs]
        if len(have) < 2:
            continue
        small, big = runs[(have[0], engine)], runs[(have[-1], engine)]
        mid = runs.get((100_000, engine)) if have[-1] > 100_000 else None
        for s in STAGES:
            pc_ratio = per_core(big[s]) / per_core(small[s])
            line = (f"{engine} {s}: {per_core(small[s]):,.0f} → {per_core(big[s]):,.0f} docs/s per core from "
                    f"{have[0]:,} to {have[-1]:,} docs ({pc_ratio:.2f}×, target within ±{PER_CORE_TARGET:.0%}: "
                    f"{'met' if abs(pc_ratio - 1) <= PER_CORE_TARGET else 'not met'}); peak driver RSS "
                    + " → ".join(f"{runs[(d, engine)][s]['peak_rss_driver_mb']:,.0f}" for d in have) + " MB")
            if mid is not None:
                rss_ratio = big[s]["peak_rss_driver_mb"] / mid[s]["peak_rss_driver_mb"]
                line += (f" ({rss_ratio:.2f}× from 100,000 to {have[-1]:,}, target ≤ {RSS_TARGET}×: "
                         f"{'met' if rss_ratio <= RSS_TARGET else 'not met'})")
                if big[s].get("peak_private_driver_mb") and mid[s].get("peak_private_driver_mb"):
                    ratio = big[s]["peak_private_driver_mb"] / mid[s]["peak_private_driver_mb"]
                    line += (f"; private {mid[s]['peak_private_driver_mb']:,.0f} → {big[s]['peak_private_driver_mb']:,.0f}"
                             f" MB ({ratio:.2f}×: {'met' if ratio <= RSS_TARGET else 'not met'})")
            scaling.append(line)
    if local_sizes and local_sizes[-1] < 1_000_000:
        d = local_sizes[-1]
        cpu = sum(runs[(d, "local")][s]["cpu_s"] for s in ("ingest", "dedup", "scoring"))
        scaling.append(f"1,000,000 docs (`--sizes 1000000`, not run here): about {cpu * 1e6 / d / 60:,.0f} CPU-minutes "
                       f"by the {d:,}-document per-core figures, so ~{cpu * 1e6 / d / 60 / psutil.cpu_count():,.0f} "
                       f"minutes per engine on these {psutil.cpu_count()} cores if idle (an estimate); its landing "
                       f"JSONL takes ~{runs[(d, 'local')]['corpus']['bytes'] * 1e6 / d / 1e9:,.1f} GB, and the lake "
                       "about as much again per stage")
    report["scaling_notes"] = scaling or ["(one size only)"]
    biggest = runs.get((local_sizes[-1], "local")) if local_sizes else None
    if biggest:
        rows = [("| stage | MB/s per core (measured, local, largest size) | core-hours for 10 TB | hours on 1,000 cores "
                "(ideal scaling) |"), "|---|---|---|---|"]
        total = 0.0
        for s in ("ingest", "dedup", "scoring"):
            mbps = biggest[s]["mb_in"] / biggest[s]["cpu_s"]
            core_h = SEED_001_BYTES / 1e6 / mbps / 3600
            total += core_h
            rows.append(f"| {s} | {mbps:.2f} | {core_h:,.0f} | {core_h / 1000:,.1f} |")
        rows.append(f"| all three | | {total:,.0f} | {total / 1000:,.1f} |")
        rows += ["", ("Assumes each stage's input is the full 10 TB (dedup and scoring see less after drops) and "
                 "that per-core throughput holds on cluster nodes; it leaves out the dedup band join's shuffle and "
                 "the network and storage bandwidth a cluster adds, and the perplexity / classifier / embedding "
                 "models, which cost more per document than the rules.")]
        report["extrapolation"] = rows
    else:
        report["extrapolation"] = ["(no local run)"]


def save(report: dict) -> None:
    analyse(report)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "scale.json").write_text(json.dumps(report, indent=2, default=str))
    (RESULTS / "scale.md").write_text(markdown(report))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--engines", nargs="+", default=["local", "ray"], choices=["local", "ray"])
    parser.add_argument("--band-partitions", type=int, default=4, help="hash partitions of the band join with ray")
    parser.add_argument("--work", type=Path, default=None, help="scratch folder (default: a temp dir, removed)")
    parser.add_argument("--report-only", action="store_true", help="re-render scale.md from scale.json")
    parser.add_argument("--merge", action="store_true",
                        help="keep the other runs of scale.json, replacing the (size, engine) runs made now")
    parser.add_argument("--stage-run", nargs=4, metavar=("HOME", "STAGE", "ENGINE", "PARTS"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.stage_run:
        home, stage, engine_name, parts = args.stage_run
        print(json.dumps(run_stage(Path(home), stage, engine_name, int(parts))))
        return 0
    if args.report_only:
        report = json.loads((RESULTS / "scale.json").read_text())
        analyse(report)
        (RESULTS / "scale.md").write_text(markdown(report))
        return 0
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    work = args.work or Path(tempfile.mkdtemp(prefix="cf-scale-"))
    work.mkdir(parents=True, exist_ok=True)
    # the load before the run says whether other work shared the cores (wall times move with it, CPU times less)
    report = {"machine": f"{psutil.cpu_count()} cores, {psutil.virtual_memory().total / 2**30:.0f} GiB RAM, 1-minute "
                         f"load average {os.getloadavg()[0]:.2f} when the run started", "runs": []}
    if args.merge and (RESULTS / "scale.json").exists():
        report["runs"] = json.loads((RESULTS / "scale.json").read_text())["runs"]
    try:
        t0 = time.perf_counter()
        base = base_documents(work)
        base_mb = sum(len(t.encode("utf-8", "surrogatepass")) for _, t in base) / 1e6
        report["corpus_note"] = (f"the whole sample corpus, {len(base):,} real documents ({base_mb:.0f} MB of text, "
                                 f"built and ingested in {time.perf_counter() - t0:.0f} s), cycled with realistic "
                                 "edits (module docstring); per-size mix below.")
        for n in args.sizes:
            source = work / f"landing-{n}"
            shutil.rmtree(source, ignore_errors=True)
            corpus = write_landing(source, base, n)
            for engine_name in args.engines:
                home = work / f"{engine_name}-{n}"
                shutil.rmtree(home, ignore_errors=True)
                home.mkdir(parents=True)
                shutil.copytree(source / "landing", home / "landing", copy_function=os.link)  # read only
                run = run_pipeline(home, engine_name, args.band_partitions)
                run.update(docs=n, engine=engine_name, corpus=corpus, measured_at=time.strftime("%Y-%m-%d %H:%M UTC",
                                                                                              time.gmtime()))
                report["runs"] = sorted([r for r in report["runs"] if (r["docs"], r["engine"]) != (n, engine_name)]
                                        + [run], key=lambda r: (r["docs"], r["engine"]))
                print(f"{n:>9,} {engine_name:5s} " + "  ".join(
                    f"{s} {run[s]['wall_s']:.1f}s/{run[s]['cpu_s']:.1f}cpu/{run[s]['peak_rss_driver_mb']:.0f}MB"
                    for s in STAGES), flush=True)
                shutil.rmtree(home, ignore_errors=True)
                save(report)
            shutil.rmtree(source, ignore_errors=True)
        print(markdown(report))
    finally:
        if args.work is None:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
