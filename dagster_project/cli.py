"""``corpusforge`` command line: the demo run, the UI, and "why was this document dropped?"."""

import argparse
import os
import sys
import time
from pathlib import Path

from curation.lake import Lake, home_from_env

DAGSTER_YAML = """\
telemetry:
  enabled: false
"""


def prepare_environment() -> Path:
    """Resolve CORPUSFORGE_HOME and point DAGSTER_HOME inside it, so runs and
    materializations persist between commands and the UI sees the demo's history."""
    home = home_from_env()
    home.mkdir(parents=True, exist_ok=True)
    os.environ["CORPUSFORGE_HOME"] = str(home)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    dagster_home = Path(os.environ.setdefault("DAGSTER_HOME", str(home / "dagster")))
    dagster_home.mkdir(parents=True, exist_ok=True)
    if not (dagster_home / "dagster.yaml").exists():
        (dagster_home / "dagster.yaml").write_text(DAGSTER_YAML)
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

    from dagster_project.definitions import defs
    from assets.partitions import category_partitions

    started = time.perf_counter()
    if not args.skip_sample:
        cmd_sample(args)
    lake = Lake(home_from_env())
    instance = dg.DagsterInstance.get()
    categories = sorted(_valid(lake.landing_categories()))
    known = set(instance.get_dynamic_partitions(category_partitions.name))
    instance.add_dynamic_partitions(category_partitions.name, [c for c in categories if c not in known])

    phases = [("ingest_and_dedup", categories), ("quality_models", [None]), ("score_and_rewrite", categories),
              ("mixture_to_eval", [None]), ("data_ablation", [None])]
    for job_name, partitions in phases:
        job = defs.resolve_job_def(job_name)
        for partition in partitions:
            t0 = time.perf_counter()
            result = job.execute_in_process(instance=instance, partition_key=partition, raise_on_error=False)
            label = f"{job_name}[{partition}]" if partition else job_name
            print(f"[{'ok' if result.success else 'FAILED'}] {label} {time.perf_counter() - t0:.0f}s", flush=True)
            if not result.success:
                _report_failure(result)
                return 1
    print_eval_table(lake)
    print_ablation_verdicts(lake)
    print(f"demo finished in {time.perf_counter() - started:.0f}s; open the UI with `make ui`")
    return 0


def _report_failure(result) -> None:
    for event in result.all_events:
        if event.is_step_failure:
            print(f"  step {event.step_key} failed: {event.step_failure_data.error.message.strip()[:2000]}",
                  file=sys.stderr)
        if event.event_type_value == "ASSET_CHECK_EVALUATION" and not event.event_specific_data.passed:
            evaluation = event.event_specific_data
            print(f"  check {evaluation.check_name} on {evaluation.asset_key.to_user_string()} failed: "
                  f"{ {k: v.value for k, v in evaluation.metadata.items()} }", file=sys.stderr)


def _valid(names: list[str]) -> set[str]:
    from curation.document import InvalidCategoryError, validate_category

    ok = set()
    for name in names:
        try:
            ok.add(validate_category(name))
        except InvalidCategoryError as exc:
            print(f"skipping landing folder: {exc}", file=sys.stderr)
    return ok


def print_eval_table(lake: Lake) -> None:
    """The latest eval run, one line per held-out category: base vs checkpoint perplexity."""
    from curation.catalog import Catalog

    rows = Catalog(lake.catalog_path).query(
        "SELECT category, model, metric, value FROM eval_table WHERE run_id = "
        "(SELECT run_id FROM eval_table ORDER BY recorded_at DESC LIMIT 1)"
    )
    if not rows:
        print("eval table is empty")
        return
    value = {(c, m, k): v for c, m, k, v in rows}
    print(f"\n{'held-out category':36s} {'base ppl':>10s} {'trained ppl':>12s} {'loss delta':>11s}  (>0: forgot)")
    for category in sorted({c for c, _, _, _ in rows}):
        print(f"{category:36s} {value[category, 'base', 'perplexity']:10.3f} "
              f"{value[category, 'checkpoint', 'perplexity']:12.3f} "
              f"{value[category, 'checkpoint-vs-base', 'loss_delta']:+11.4f}")


def print_ablation_verdicts(lake: Lake) -> None:
    """The data ablation's verdicts: each variant against the baseline, with the noise."""
    import json

    path = lake.home / "models" / "ablation" / "ablation_report.json"
    if not path.is_file():
        print("no ablation report")
        return
    report = json.loads(path.read_text())
    print(f"\ndata ablation ({len(report['runs'])} runs, {report['wall_s']:.0f}s):")
    for v in report["verdicts"]:
        print(f"  {v['verdict']}")


def cmd_ui(args) -> int:
    os.execvp("dagster", ["dagster", "dev", "-m", "dagster_project.definitions", "-h", "127.0.0.1", "-p", str(args.port)])


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


if __name__ == "__main__":
    sys.exit(main())
