"""``corpusforge demo``: run the jobs phase by phase as runs of the code location, quietly.

Each run is created against the same code location ``make ui`` serves (location
``dagster_project.definitions`` from ``workspace.yaml``), so it appears under its job in the UI
and can be re-executed there. It executes here, in this process, with the in-process executor
(a subprocess per step would import torch and GX again for every step on a 2-core machine).
Dagster's event stream and everything the stages print go to a log file under
``$CORPUSFORGE_HOME/logs``; the terminal gets one line per phase and partition.
"""

import contextlib
import os
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import dagster as dg
from dagster._core.definitions.reconstruct import ReconstructableJob
from dagster._core.execution.api import execute_run_iterator
from dagster._core.remote_origin import InProcessCodeLocationOrigin
from dagster._core.types.loadable_target_origin import LoadableTargetOrigin

REPO_ROOT = Path(__file__).resolve().parents[1]
MODULE = "dagster_project.definitions"
# The name `dagster dev -w workspace.yaml` gives the python_module entry: the UI matches runs by it.
LOCATION_NAME = MODULE
REPOSITORY_NAME = "__repository__"
IN_PROCESS = {"execution": {"config": {"in_process": {}}}}


class CodeLocationRuns:
    """Creates and executes runs whose origin is the project's code location (not an ad-hoc job)."""

    def __init__(self, instance: dg.DagsterInstance):
        origin = InProcessCodeLocationOrigin(
            LoadableTargetOrigin(executable_path=sys.executable, module_name=MODULE,
                                 working_directory=str(REPO_ROOT)),
            location_name=LOCATION_NAME,
        )
        self.instance = instance
        self.location = origin.create_location(instance)
        self.repository = self.location.get_repository(REPOSITORY_NAME)

    def create(self, job_name: str, partition: str | None) -> tuple[ReconstructableJob, dg.DagsterRun]:
        recon = self.location.get_reconstructable_job(REPOSITORY_NAME, job_name)
        job_def = recon.get_definition()
        tags = {"corpusforge/trigger": "demo"}
        if partition is not None:
            tags.update(job_def.get_tags_for_partition_key(partition, selected_asset_keys=None))
        run = self.instance.create_run_for_job(
            job_def, run_config=IN_PROCESS, tags=tags,
            remote_job_origin=self.repository.get_full_job(job_name).get_remote_origin(),
            job_code_origin=recon.get_python_origin(),
        )
        return recon, run

    def execute(self, recon: ReconstructableJob, run: dg.DagsterRun) -> Iterator[dg.DagsterEvent]:
        return execute_run_iterator(recon, run, self.instance)


@dataclass
class RunSummary:
    success: bool = False
    steps_done: int = 0
    checks_passed: int = 0
    failures: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    # asset -> reasons of its checks that saw too little to judge: one line per asset, not per check
    not_judged: dict[str, list[str]] = field(default_factory=dict)

    def warning_lines(self) -> list[str]:
        lines = list(self.warnings)
        for asset, reasons in self.not_judged.items():
            more = f" (and {len(reasons) - 1} more checks)" if len(reasons) > 1 else ""
            lines.append(f"{asset}: not judged: {reasons[0]}{more}")
        return lines


class Terminal:
    """Progress lines on the real terminal while fd 1 and 2 point at the log file."""

    def __init__(self):
        self.stream = os.fdopen(os.dup(sys.stdout.fileno()), "w", buffering=1)
        self.live = self.stream.isatty()
        self._status = ""
        self._since = 0.0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._ticker = threading.Thread(target=self._tick, daemon=True)
        self._ticker.start()

    def line(self, text: str) -> None:
        with self._lock:
            self._clear()
            self.stream.write(text + "\n")

    def status(self, text: str) -> None:
        """A transient line (a step counter with a ticking clock) rewritten in place on a TTY."""
        with self._lock:
            self._status, self._since = text, time.perf_counter()
            self._draw()

    def _draw(self) -> None:
        if self.live and self._status:
            self.stream.write(f"\r\033[K{self._status} {time.perf_counter() - self._since:4.0f}s")
            self.stream.flush()

    def _clear(self) -> None:
        if self.live and self._status:
            self.stream.write("\r\033[K")
        self._status = ""

    def _tick(self) -> None:
        while not self._stop.wait(1.0):
            with self._lock:
                self._draw()

    def close(self) -> None:
        self._stop.set()
        with self._lock:
            self._clear()
        self.stream.flush()


@contextlib.contextmanager
def output_to(log_path: Path):
    """Send this process's fd 1 and 2 (Dagster's console logger, library prints, child processes)
    to ``log_path`` for the duration."""
    sys.stdout.flush(), sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    with open(log_path, "a", buffering=1) as log:
        os.dup2(log.fileno(), 1), os.dup2(log.fileno(), 2)
        try:
            yield
        finally:
            sys.stdout.flush(), sys.stderr.flush()
            os.dup2(saved[0], 1), os.dup2(saved[1], 2)
            os.close(saved[0]), os.close(saved[1])


def run_phase(runs: CodeLocationRuns, job_name: str, partition: str | None, term: Terminal) -> RunSummary:
    """Execute one run, drawing ``[step i/n] name`` while it goes; returns what happened."""
    recon, run = runs.create(job_name, partition)
    total = len(recon.get_definition().asset_layer.executable_asset_keys)
    label = f"{job_name}[{partition}]" if partition else job_name
    summary = RunSummary()
    for event in runs.execute(recon, run):
        if event.is_step_start:
            term.status(f"  {label}: step {summary.steps_done + 1}/{total} {event.step_key}")
        elif event.is_step_success:
            summary.steps_done += 1
        elif event.is_step_failure:
            summary.failures.append(f"step {event.step_key}: {event.step_failure_data.error.message.strip()[:1500]}")
        elif event.event_type_value == "ASSET_CHECK_EVALUATION":
            evaluation = event.event_specific_data
            asset = evaluation.asset_key.to_user_string()
            unjudged = evaluation.metadata.get("cannot_judge")
            if evaluation.passed:
                summary.checks_passed += 1
            elif unjudged is not None and evaluation.severity == dg.AssetCheckSeverity.WARN:
                summary.not_judged.setdefault(asset, []).append(unjudged.value)
            else:
                text = evaluation.metadata.get("failed")
                detail = text.value if text is not None else evaluation.description or ""
                line = f"check {asset}:{evaluation.check_name} ({evaluation.severity.value}) {detail}"
                (summary.warnings if evaluation.severity == dg.AssetCheckSeverity.WARN else summary.failures).append(line)
    summary.success = runs.instance.get_run_by_id(run.run_id).status == dg.DagsterRunStatus.SUCCESS
    return summary


def run_demo(phases: list[tuple[str, list[str | None]]], instance: dg.DagsterInstance, log_path: Path) -> bool:
    """Run every phase; stop at the first failed run. Returns True when all succeeded."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    term = Terminal()
    try:
        with output_to(log_path):
            runs = CodeLocationRuns(instance)
            for job_name, partitions in phases:
                for partition in partitions:
                    t0 = time.perf_counter()
                    summary = run_phase(runs, job_name, partition, term)
                    label = f"{job_name}[{partition}]" if partition else job_name
                    warned = summary.warning_lines()
                    n_warned = len(summary.warnings) + sum(map(len, summary.not_judged.values()))
                    term.line(f"[{'ok' if summary.success else 'FAILED'}] {label:36s} {time.perf_counter() - t0:5.0f}s"
                              f"  {summary.steps_done} steps, {summary.checks_passed} checks passed"
                              + (f", {n_warned} warnings" if n_warned else ""))
                    for line in summary.failures + (warned if summary.success else []):
                        term.line(f"    {line[:400]}")
                    if not summary.success:
                        return False
        return True
    finally:
        term.close()
