"""``corpusforge`` command line: the demo run, the UI, and "why was this document dropped?"."""

import argparse
import logging
import os
import shutil
import sys
import time
import traceback
from pathlib import Path

from curation.lake import Lake, home_from_env

REPO_ROOT = Path(__file__).resolve().parents[1]

GENERATED_MARK = "# written by corpusforge (delete this line to keep your own edits)"


def dagster_yaml(cpus: int | None = None) -> str:
    """The instance settings the demo and ``make ui`` share.

    Telemetry off (it tries the network); at most one run per two cores at once (a 2-core
    machine once ran 6 runs together); never two runs of the same category partition at once
    (they would write the same lake folder: the ingest lock makes the second wait anyway,
    this keeps it queued instead of holding a worker); one step at a time per run pool (the GPU stages'
    pool ``gpu``, dagster_project/automation.py).
    """
    cpus = cpus or os.cpu_count() or 1
    return f"""{GENERATED_MARK}
telemetry:
  enabled: false
concurrency:
  pools:
    # the GPU stages (pool "gpu": generation, training, evaluation, ablation) run one step at a time;
    # `dagster instance concurrency set gpu N` raises it on a machine with N GPUs
    default_limit: 1
  runs:
    max_concurrent_runs: {max(1, cpus // 2)}
    tag_concurrency_limits:
      - key: dagster/partition
        value:
          applyLimitPerUniqueValue: true
        limit: 1
"""


def prepare_environment() -> Path:
    """Resolve CORPUSFORGE_HOME and point DAGSTER_HOME inside it, so runs and
    materializations persist between commands and the UI sees the demo's history."""
    home = home_from_env()
    home.mkdir(parents=True, exist_ok=True)
    os.environ["CORPUSFORGE_HOME"] = str(home)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    dagster_home = Path(os.environ.setdefault("DAGSTER_HOME", str(Lake(home).dagster_home)))
    dagster_home.mkdir(parents=True, exist_ok=True)
    config = dagster_home / "dagster.yaml"
    if not config.exists() or config.read_text().startswith(GENERATED_MARK):
        config.write_text(dagster_yaml())
    return home


def cmd_sample(args) -> int:
    from curation.sample_corpus import build_sample_corpus

    caps = {} if args.max_docs is None else {"max_docs_per_category": args.max_docs or None}
    summary = build_sample_corpus(Lake(home_from_env()).landing, **caps)
    for category, info in sorted(summary["categories"].items()):
        if not info["docs"]:
            print(f"{category:12s} skipped: {'; '.join(info['unavailable'].values()) or 'no documents'}")
            continue
        print(f"{category:12s} {info['docs']:6d} docs  {info['shards']:3d} shards  {info['bytes'] / 1e6:6.1f} MB")
    return 0


def cmd_demo(args) -> int:
    import dagster as dg

    from assets.partitions import category_partitions
    from dagster_project.demo import run_demo

    started = time.perf_counter()
    if not args.skip_sample:
        cmd_sample(args)
    lake = Lake(home_from_env())
    instance = dg.DagsterInstance.get()
    for name, reason in lake.refused_landing_folders():
        print(f"skipping landing folder {name!r}: {reason}", file=sys.stderr)
    categories = lake.landing_categories()
    known = set(instance.get_dynamic_partitions(category_partitions.name))
    instance.add_dynamic_partitions(category_partitions.name, [c for c in categories if c not in known])

    from assets.partitions import stage_partitions

    stages = stage_partitions.get_partition_keys()
    phases = [("ingest_and_dedup", categories), ("quality_models", [None]), ("score_and_rewrite", categories),
              ("mixture_to_eval", stages), ("data_ablation", [None])]
    log_path = lake.home / "logs" / f"demo-{time.strftime('%Y%m%d-%H%M%S')}.log"
    print(f"running {sum(len(p) for _, p in phases)} runs; Dagster's full event log: {log_path}", flush=True)
    ok = run_demo(phases, instance, log_path)
    if ok:
        for stage in stages:
            print_stage(lake, stage)
        print_ablation_verdicts(lake)
    print(f"demo {'finished' if ok else 'FAILED'} in {time.perf_counter() - started:.0f}s; full log: {log_path}")
    if ok:
        print("open the UI with `make ui`: the runs are under Jobs (or Runs)")
    return 0 if ok else 1


def print_stage(lake: Lake, stage: str) -> None:
    """A curriculum stage's reweighting (what its mixture used) and its eval table."""
    import json

    weights = lake.stage_dir("mixture_weights", stage) / "weights.json"
    info = json.loads(weights.read_text()) if weights.is_file() else {"rows": []}
    if info["rows"]:
        print(f"  reweighting that made [{stage}] from {info['source']}'s eval (alpha {info['alpha']}):")
        print(f"  {'slice':36s} {'Δp':>10s} {'f':>10s} {'r before':>12s} {'r after':>11s}")
        for r in info["rows"]:
            print(f"  {r['slice'][:36]:36s} {r['delta_p']:+10.3f} {r['f']:10.3f} {r['r_prev']:12.3f} {r['r_new']:11.3f}")
    print_eval_table(lake, stage)


def print_eval_table(lake: Lake, stage: str | None = None) -> None:
    """The latest eval run: base vs checkpoint perplexity per held-out slice, then the downstream tasks."""
    from curation.catalog import Catalog

    where = "stage = ?" if stage else "TRUE"
    rows = Catalog(lake.catalog_path).query(
        f"SELECT category, model, metric, value, n_items FROM eval_table WHERE run_id = "
        f"(SELECT run_id FROM eval_table WHERE {where} ORDER BY recorded_at DESC LIMIT 1)", [stage] if stage else []
    )
    if not rows:
        print("eval table is empty")
        return
    value = {(c, m, k): v for c, m, k, v, _ in rows}
    heldout = sorted({c for c, _, k, _, _ in rows if k == "perplexity"})
    nan = float("nan")
    print(f"  {'held-out slice' + (f' [{stage}]' if stage else ''):36s} {'base ppl':>10s} {'start ppl':>10s} "
          f"{'trained ppl':>12s} {'loss delta':>11s}  (vs base, >0: forgot)")
    for category in heldout:
        print(f"  {category:36s} {value.get((category, 'base', 'perplexity'), nan):10.3f} "
              f"{value.get((category, 'start', 'perplexity'), value.get((category, 'base', 'perplexity'), nan)):10.3f} "
              f"{value.get((category, 'checkpoint', 'perplexity'), nan):12.3f} "
              f"{value.get((category, 'checkpoint-vs-base', 'loss_delta'), nan):+11.4f}")
    tasks = sorted({(c, k, n) for c, m, k, _, n in rows if c not in heldout and m == "checkpoint"})
    if tasks:
        print(f"  {'downstream task (metric, items)':36s} {'base':>10s} {'start':>10s} {'trained':>12s}")
        for task, metric, n in tasks:
            print(f"  {f'{task} ({metric}, {n})':36s} {value.get((task, 'base', metric), nan):10.3f} "
                  f"{value.get((task, 'start', metric), value.get((task, 'base', metric), nan)):10.3f} "
                  f"{value.get((task, 'checkpoint', metric), nan):12.3f}")


def dagster_executable() -> str:
    """The ``dagster`` script of the environment running us (a fresh clone's .venv/bin is not on PATH)."""
    beside = Path(sys.executable).with_name("dagster")
    found = str(beside) if beside.exists() else shutil.which("dagster")
    if not found:
        raise SystemExit(f"no `dagster` executable beside {sys.executable} or on PATH: pip install dagster-webserver")
    return found


def ui_command(port: int) -> list[str]:
    """``dagster dev`` on the same workspace the demo's runs name as their code location."""
    return [dagster_executable(), "dev", "-w", str(REPO_ROOT / "workspace.yaml"), "-h", "127.0.0.1", "-p", str(port)]


def print_ablation_verdicts(lake: Lake) -> None:
    """The data ablation's verdicts: each variant against the baseline, with the noise."""
    import json

    path = lake.ablation_dir() / "ablation_report.json"
    if not path.is_file():
        print("no ablation report")
        return
    report = json.loads(path.read_text())
    print(f"\ndata ablation ({len(report['runs'])} runs, {report['wall_s']:.0f}s):")
    for v in report["verdicts"]:
        print(f"  {v['verdict']}")
    for name, i in report["independence"].items():
        print(f"  eval set {name}: {i['kept']} of {i['docs']} documents kept ({i['hash_hits']} in training by hash, "
              f"{i['dropped_overlap']} overlapping it, {i.get('trimmed_for_set', 0)} trimmed to the set bound)")


def cmd_ui(args) -> int:
    command = ui_command(args.port)
    print(f"Dagster UI on http://127.0.0.1:{args.port} (DAGSTER_HOME={os.environ['DAGSTER_HOME']})", flush=True)
    os.chdir(REPO_ROOT)
    os.execv(command[0], command)


def cmd_why(args) -> int:
    from curation.lineage import main as explain

    return explain([args.doc_id])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="corpusforge", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("sample", help="build the bundled real sample corpus into landing/")
    p.add_argument("--max-docs", type=int, default=None, help="cap per category (default: the demo size; 0: everything)")
    p.set_defaults(func=cmd_sample)
    p = sub.add_parser("demo", help="sample corpus + the whole asset graph, then print the eval table")
    p.add_argument("--max-docs", type=int, default=None)
    p.add_argument("--skip-sample", action="store_true", help="use what is already in landing/")
    p.set_defaults(func=cmd_demo)
    p = sub.add_parser("ui", help="open the Dagster UI on the same data (127.0.0.1)")
    p.add_argument("--port", type=int, default=3000)
    p.set_defaults(func=cmd_ui)
    p = sub.add_parser("why", help="why was a document dropped?")
    p.add_argument("doc_id")
    p.set_defaults(func=cmd_why)
    args = parser.parse_args(argv)
    prepare_environment()
    return args.func(args)


def entry() -> None:
    """The ``corpusforge`` console script: ``main``, then leave without interpreter finalization.

    Every DuckDB connection is closed by then (each sits in a ``with`` block), but with dagster,
    torch, GX and lm-eval loaded, CPython's module teardown frees DuckDB's nanobind module before
    some interpreter-wide caches that still reference its types, and nanobind prints dozens of
    "leaked" lines although nothing leaks. Output is flushed and files are closed first.
    """
    code = 1
    try:
        code = main()
    except SystemExit as exit_:
        code = exit_.code if isinstance(exit_.code, int) else (0 if exit_.code is None else 1)
        if not isinstance(exit_.code, int | None):
            print(exit_.code, file=sys.stderr)
    except BaseException:  # noqa: BLE001 -- shown as Python would, then the exit below
        traceback.print_exc()
    finally:
        logging.shutdown()
        sys.stdout.flush(), sys.stderr.flush()
        os._exit(code)


if __name__ == "__main__":
    entry()
