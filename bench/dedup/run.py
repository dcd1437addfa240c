"""Deduplication benchmark: corpusforge vs DataTrove 0.10.1 MinHash, same labelled corpus, one run.

    python bench/dedup/run.py [--en 1500 --zh 1500] [--skip-datatrove]

Builds the corpus (build_corpus.py), creates bench/.venv-datatrove if missing, runs each tool in its own
process (one core each, one after the other), and writes bench/results/dedup.json and dedup.md with docs/s,
MB/s (wall and per CPU-second), peak RSS, precision and recall.

Scoring: every labelled cluster should lose all members but one. Per cluster, correct removals are
min(removed members, size - 1); any other removal is a false positive; missing ones are false negatives.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from bench.datatrove_venv import ensure_datatrove_venv  # the one venv both benchmarks share


def measured(cmd: list[str], env: dict | None = None) -> dict:
    """Run cmd; return its JSON stdout plus wall seconds, CPU seconds and peak RSS (from wait4)."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, env={**os.environ, **(env or {})})
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t0
        out.seek(0)
        err.seek(0)
        if os.waitstatus_to_exitcode(status) != 0:
            raise RuntimeError(f"{cmd[1]} failed:\n{err.read().decode()[-3000:]}")
        result = json.loads(out.read())
    result.update(wall_s=wall, cpu_s=usage.ru_utime + usage.ru_stime, peak_rss_mb=usage.ru_maxrss / 1024)
    return result


def score(removed: set[str], clusters: dict[str, str]) -> dict:
    sizes, hits = {}, {}
    for doc, c in clusters.items():
        sizes[c] = sizes.get(c, 0) + 1
    for doc in removed:
        c = clusters[doc]
        hits[c] = hits.get(c, 0) + 1
    tp = sum(min(n, sizes[c] - 1) for c, n in hits.items())
    fp, expected = len(removed) - tp, sum(s - 1 for s in sizes.values())
    return {"removed": len(removed), "expected_removals": expected, "true_positives": tp, "false_positives": fp,
            "precision": tp / len(removed) if removed else 1.0, "recall": tp / expected if expected else 1.0}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--en", type=int, default=1500, help="English base documents (scale up here)")
    ap.add_argument("--zh", type=int, default=1500, help="Chinese base documents")
    ap.add_argument("--skip-datatrove", action="store_true")
    ap.add_argument("--config", default="{}", help="DedupConfig overrides as JSON")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="dedup-bench-"))
    corpus = work / "corpus"
    built = json.loads(subprocess.run([sys.executable, str(ROOT / "bench/dedup/build_corpus.py"), "--out",
                                       str(corpus), "--en", str(args.en), "--zh", str(args.zh)],
                                      check=True, capture_output=True, text=True).stdout)
    clusters = {}
    for lang in ("en", "zh"):
        with open(corpus / f"{lang}.jsonl", encoding="utf-8") as fh:
            for line in fh:
                r = json.loads(line)
                clusters[r["id"]] = r["cluster"]
    mb = sum(v["bytes"] for v in built.values()) / 1e6
    docs = len(clusters)

    runs = {"corpusforge": measured([sys.executable, str(ROOT / "bench/dedup/run_corpusforge.py"), str(corpus),
                                     str(work / "home"), args.config], env={"PYTHONPATH": str(ROOT),
                                                                              "OMP_NUM_THREADS": "1"})}
    if not args.skip_datatrove:
        runs["datatrove"] = measured([str(ensure_datatrove_venv()), str(ROOT / "bench/dedup/run_datatrove.py"),
                                      str(corpus), str(work / "datatrove")], env={"OMP_NUM_THREADS": "1"})
    report = {"corpus": {"docs": docs, "mb": round(mb, 2), **built}, "tools": {}}
    for name, r in runs.items():
        report["tools"][name] = {
            **score(set(r["removed"]), clusters), "wall_s": round(r["wall_s"], 2), "cpu_s": round(r["cpu_s"], 2),
            "docs_per_s": round(docs / r["wall_s"], 1), "mb_per_s_wall": round(mb / r["wall_s"], 3),
            "mb_per_cpu_s": round(mb / r["cpu_s"], 3), "peak_rss_mb": round(r["peak_rss_mb"], 1)}
        if "stats" in r:
            report["tools"][name]["stage_stats"] = r["stats"]
    if "datatrove" in report["tools"]:
        cf, dt = report["tools"]["corpusforge"], report["tools"]["datatrove"]
        report["ratios_corpusforge_over_datatrove"] = {
            k: round(cf[k] / dt[k], 2) for k in ("mb_per_s_wall", "mb_per_cpu_s", "peak_rss_mb", "precision", "recall")}
    out = ROOT / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / "dedup.json").write_text(json.dumps(report, indent=2))
    (out / "dedup.md").write_text(markdown(report))
    print(markdown(report))


def markdown(report: dict) -> str:
    c = report["corpus"]
    removals = c["en"]["expected_removals"] + c["zh"]["expected_removals"]
    lines = [(f"Corpus: {c['docs']} documents, {c['mb']} MB (en {c['en']['docs']}, zh {c['zh']['docs']}), "
              f"{removals} labelled duplicates to remove."), "",
             "| tool | precision | recall | docs/s | MB/s (wall) | MB per CPU-s | peak RSS MB | wall s |",
             "|---|---|---|---|---|---|---|---|"]
    for name, t in report["tools"].items():
        lines.append(f"| {name} | {t['precision']:.3f} | {t['recall']:.3f} | {t['docs_per_s']} | {t['mb_per_s_wall']} "
                     f"| {t['mb_per_cpu_s']} | {t['peak_rss_mb']} | {t['wall_s']} |")
    if "ratios_corpusforge_over_datatrove" in report:
        lines += ["", "corpusforge / DataTrove: " + ", ".join(
            f"{k} {v}x" for k, v in report["ratios_corpusforge_over_datatrove"].items())]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
